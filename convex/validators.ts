/**
 * Convex validators for the engine's state, one per Rust type that is stored
 * or returned. The engine's TypeScript types are generated from Rust; the
 * assertions at the bottom fail type-checking if the two ever disagree.
 */
import { v, type Infer, type ObjectType } from "convex/values";
import type { Failure } from "../js-shim/src/engine-types/Failure.js";
import type { Estimate } from "../js-shim/src/engine-types/Estimate.js";
import type { KeyPosition } from "../js-shim/src/engine-types/KeyPosition.js";
import type { KeyRange } from "../js-shim/src/engine-types/KeyRange.js";
import type { WorkerState } from "../js-shim/src/engine-types/WorkerState.js";
import type { RunState } from "../js-shim/src/engine-types/RunState.js";
import type { StepDef } from "../js-shim/src/engine-types/StepDef.js";
import type { PlanItem } from "../js-shim/src/engine-types/PlanItem.js";
import type { Repair } from "../js-shim/src/engine-types/Repair.js";
import type { DriftFinding } from "../js-shim/src/engine-types/DriftFinding.js";
import type { DropInState } from "../js-shim/src/engine-types/DropInState.js";
import type { StartReply } from "../js-shim/src/engine-types/StartReply.js";
import type { RepairReply } from "../js-shim/src/engine-types/RepairReply.js";
import type { Direction } from "../js-shim/src/engine-types/Direction.js";
import type { ItemStatus } from "../js-shim/src/engine-types/ItemStatus.js";
import type { Limits } from "../js-shim/src/engine-types/Limits.js";
import type { MigrationDef } from "../js-shim/src/engine-types/MigrationDef.js";
import type { MigrationState } from "../js-shim/src/engine-types/MigrationState.js";
import type { RunItem } from "../js-shim/src/engine-types/RunItem.js";
import type { RunStatus } from "../js-shim/src/engine-types/RunStatus.js";
import type { StartRequest } from "../js-shim/src/engine-types/StartRequest.js";
import type { WorkerStatus } from "../js-shim/src/engine-types/WorkerStatus.js";

/** The states of one worker, exactly the engine's `WorkerStatus`. */
export const vWorkerStatus = v.union(
  v.literal("inProgress"),
  v.literal("success"),
  v.literal("failed"),
  v.literal("canceled"),
  v.literal("paused"),
);

export const vFailure = v.object({
  kind: v.union(v.literal("limit"), v.literal("occ"), v.literal("user"), v.literal("codeChanged")),
  message: v.string(),
  documentId: v.optional(v.string()),
  cursor: v.optional(v.string()),
  batchSize: v.number(),
  atMs: v.number(),
});

export const vKeyRange = v.object({
  lo: v.optional(v.number()),
  hi: v.optional(v.number()),
});

export const vKeyPosition = v.object({
  lo: v.number(),
  hi: v.number(),
  at: v.number(),
  /** Which field of a `customRange` walk's index key the position reads; absent in `_creationTime` order. */
  keyField: v.optional(v.number()),
});

/** Fraction done and time left, exactly the engine's `Estimate`. */
export const vEstimate = v.object({
  fractionDone: v.union(v.number(), v.null()),
  etaMs: v.union(v.number(), v.null()),
  basis: v.union(v.literal("creationTime"), v.literal("indexKey"), v.literal("done"), v.literal("none")),
});

export const vWorkerState = v.object({
  status: vWorkerStatus,
  cursor: v.optional(v.string()),
  batchSize: v.number(),
  maxBatchSize: v.number(),
  adaptive: v.boolean(),
  processed: v.number(),
  updated: v.number(),
  batches: v.number(),
  cheapStreak: v.number(),
  occRetries: v.number(),
  error: v.optional(vFailure),
  startedMs: v.number(),
  endedMs: v.optional(v.number()),
  lastBatchMs: v.optional(v.number()),
  generation: v.number(),
  oneBatchOnly: v.boolean(),
  range: v.optional(vKeyRange),
  position: v.optional(vKeyPosition),
  lastHopDied: v.optional(v.boolean()),
  nextHop: v.optional(v.number()),
  lastBatchProcessed: v.optional(v.number()),
  fanOut: v.optional(v.number()),
  sizeSent: v.optional(v.boolean()),
});

/** The states of a versioned run, exactly the engine's `RunStatus`. */
export const vRunStatus = v.union(
  v.literal("running"),
  v.literal("succeeded"),
  v.literal("failed"),
  v.literal("canceled"),
);
export const vItemStatus = v.union(
  v.literal("pending"),
  v.literal("running"),
  v.literal("completed"),
  v.literal("failed"),
  v.literal("canceled"),
);
export const vDirection = v.union(v.literal("up"), v.literal("down"));

export const vRunItem = v.object({
  id: v.string(),
  direction: vDirection,
  status: vItemStatus,
  processed: v.number(),
  updated: v.number(),
  startedMs: v.optional(v.number()),
  endedMs: v.optional(v.number()),
  error: v.optional(v.string()),
});

export const vRunState = v.object({
  status: vRunStatus,
  items: v.array(vRunItem),
  current: v.optional(v.number()),
  startedMs: v.number(),
  endedMs: v.optional(v.number()),
  error: v.optional(v.string()),
});

/** A versioned migration's state, exactly the engine's `MigrationState`. */
export const vMigrationState = v.union(
  v.literal("pending"),
  v.literal("running"),
  v.literal("completed"),
  v.literal("failed"),
  v.literal("canceled"),
  v.literal("rolled_back"),
  v.literal("removed"),
);

/** A migration's state in the drop-in status row (the peer's words). */
export const vDropInState = v.union(
  v.literal("inProgress"),
  v.literal("success"),
  v.literal("failed"),
  v.literal("canceled"),
  v.literal("unknown"),
);

/** What a versioned start reports. */
export const vStartReply = v.union(v.literal("running"), v.literal("noop"), v.literal("dry_run"), v.literal("drift_blocked"));

/** What `repair` reports. */
export const vRepairReply = v.union(v.literal("repaired"), v.literal("noop"));

/** The drop-in status row: @convex-dev/migrations' fields plus extras. */
export const vMigrationStatus = v.object({
  name: v.string(),
  cursor: v.optional(v.union(v.string(), v.null())),
  processed: v.number(),
  isDone: v.boolean(),
  error: v.optional(v.string()),
  state: vDropInState,
  latestStart: v.number(),
  latestEnd: v.optional(v.number()),
  batchSize: v.optional(v.number()),
  next: v.optional(v.array(v.string())),
  // Fields beyond the peer's: never removed, only added.
  updated: v.optional(v.number()),
  batches: v.optional(v.number()),
  ratePerSec: v.optional(v.number()),
  elapsedMs: v.optional(v.number()),
  failedDocumentId: v.optional(v.string()),
  /** Set while `inProgress` but no scheduled batch will continue it; a start resumes it. */
  stalled: v.optional(v.boolean()),
  /** Fraction done and time left, estimated without counting the table. */
  estimate: v.optional(vEstimate),
  workers: v.optional(
    v.array(
      v.object({
        index: v.number(),
        status: vWorkerStatus,
        processed: v.number(),
        batchSize: v.number(),
        range: v.optional(vKeyRange),
      }),
    ),
  ),
  dryRun: v.optional(
    v.object({
      processed: v.number(),
      updated: v.number(),
      samples: v.array(v.object({ id: v.string(), before: v.any(), after: v.any() })),
    }),
  ),
});
export type MigrationStatus = Infer<typeof vMigrationStatus>;

/** Transaction limits (Convex's, or tighter ones for tests). */
export const vLimits = v.object({
  documentsRead: v.number(),
  bytesRead: v.number(),
  documentsWritten: v.number(),
  bytesWritten: v.number(),
  databaseQueries: v.number(),
  timeMs: v.number(),
});

/**
 * What `convex-migrate deploy --bridge` did around a run: both pushes, in
 * order, the preflight check of the target schema, and where it ended.
 */
export const vDeployRecord = v.object({
  pipeline: v.literal("bridge"),
  outcome: v.union(
    v.literal("deployed"),
    v.literal("migration_failed"),
    v.literal("check_failed"),
    v.literal("second_push_failed"),
  ),
  pushes: v.array(v.object({ schema: v.union(v.literal("bridge"), v.literal("target")), ok: v.boolean() })),
  check: v.optional(v.object({ scanned: v.number(), rejected: v.number() })),
});

/** Who started a run, from where, for which release. */
export const vRelease = v.object({
  environment: v.optional(v.string()),
  commit: v.optional(v.string()),
  tag: v.optional(v.string()),
  initiatedBy: v.optional(v.string()),
  url: v.optional(v.string()),
  /** Set by `deploy --bridge`: the pushes and the check that went with this run. */
  deploy: v.optional(vDeployRecord),
});

/**
 * A run's stored release record: the release it was started for, and the
 * convex-migrate version that ran it. Optional, so rows stored before the
 * record held it stay valid (docs/DECISIONS.md, Versioning).
 */
export const vReleaseRecord = v.object({ ...vRelease.fields, convexMigrateVersion: v.optional(v.string()) });

/** The arguments of a versioned `start`, as the CLI sends them. */
export const vStartOptions = {
  direction: v.optional(vDirection),
  steps: v.optional(v.number()),
  to: v.optional(v.string()),
  dryRun: v.optional(v.boolean()),
  allowDrift: v.optional(v.boolean()),
  strict: v.optional(v.boolean()),
  batchSize: v.optional(v.number()),
  restart: v.optional(v.boolean()),
  /** Down only (`convex-migrate sync`): the ids the next branch knows; every other applied migration is rolled back. */
  keep: v.optional(v.array(v.string())),
  release: v.optional(vRelease),
};

const vStepDef = v.object({
  table: v.string(),
  batchSize: v.optional(v.number()),
  source: v.string(),
  /** The `customRange` source, when the step has one (hashed by checksum form v2). */
  customRange: v.optional(v.string()),
  writeMode: v.optional(v.union(v.literal("triggers"), v.literal("raw"))),
});
/** A migration as the engine reads it (id, description, steps with their source). */
export const vMigrationDef = v.object({
  id: v.string(),
  description: v.string(),
  up: vStepDef,
  down: v.optional(vStepDef),
});

export const vDriftFinding = v.object({
  kind: v.union(v.literal("checksum_mismatch"), v.literal("missing_from_manifest"), v.literal("out_of_order")),
  id: v.string(),
  storedChecksum: v.optional(v.string()),
  /** The form of `storedChecksum`. */
  storedForm: v.optional(v.number()),
  currentChecksum: v.optional(v.string()),
  /** The form of `currentChecksum`. */
  currentForm: v.optional(v.number()),
  blocking: v.boolean(),
  message: v.string(),
});

export const vPlanItem = v.object({
  id: v.string(),
  direction: vDirection,
  table: v.string(),
  batchSize: v.optional(v.number()),
  resume: v.boolean(),
  /** Whether the migration has a down step; false in a down plan marks one that cannot be rolled back. */
  hasDown: v.boolean(),
});

/** One drift finding `repair` accepted, as the repair run keeps it. */
export const vRepair = v.object({
  id: v.string(),
  kind: v.union(v.literal("checksum_mismatch"), v.literal("missing_from_manifest"), v.literal("out_of_order")),
  oldChecksum: v.string(),
  /** The form of `oldChecksum` (1 for a record that stored none). */
  oldForm: v.number(),
  newChecksum: v.optional(v.string()),
  /** The form of `newChecksum`, stored beside it in the record. */
  newForm: v.optional(v.number()),
  state: vMigrationState,
});

// Compile-time proof that the validators and the generated engine types
// agree, both ways: a field or state added on either side fails `tsc`.
// Mutual assignability misses an optional field only one side has, so the
// keys are compared too (nested objects have their own line below).
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? SameKeys<A, B> : false) : false;
const agree = <T extends true>(): T | undefined => undefined;
agree<Same<Infer<typeof vWorkerStatus>, WorkerStatus>>();
agree<Same<Infer<typeof vWorkerState>, WorkerState>>();
agree<Same<Infer<typeof vFailure>, Failure>>();
agree<Same<Infer<typeof vKeyRange>, KeyRange>>();
agree<Same<Infer<typeof vKeyPosition>, KeyPosition>>();
agree<Same<Infer<typeof vEstimate>, Estimate>>();
agree<Same<Infer<typeof vRunStatus>, RunStatus>>();
agree<Same<Infer<typeof vItemStatus>, ItemStatus>>();
agree<Same<Infer<typeof vDirection>, Direction>>();
agree<Same<Infer<typeof vRunItem>, RunItem>>();
agree<Same<Infer<typeof vRunState>, RunState>>();
agree<Same<Infer<typeof vMigrationState>, MigrationState>>();
agree<Same<Infer<typeof vLimits>, Limits>>();
agree<Same<Infer<typeof vStepDef>, StepDef>>();
agree<Same<Infer<typeof vMigrationDef>, MigrationDef>>();
agree<Same<Infer<typeof vPlanItem>, PlanItem>>();
agree<Same<Infer<typeof vRepair>, Repair>>();
agree<Same<Infer<typeof vDriftFinding>, DriftFinding>>();
agree<Same<Infer<typeof vDropInState>, DropInState>>();
agree<Same<Infer<typeof vStartReply>, StartReply>>();
agree<Same<Infer<typeof vRepairReply>, RepairReply>>();
// A start's options are the engine's run options (`StartRequest` less what
// the component reads itself) plus two the component keeps: the first
// batch size of each worker and the release record.
agree<
  Same<
    Omit<ObjectType<typeof vStartOptions>, "batchSize" | "release">,
    Partial<Omit<StartRequest, "manifest" | "records" | "activeRunId">>
  >
>();
