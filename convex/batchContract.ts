/**
 * The contract between the component and the app's batch function: the
 * arguments one batch gets, what it returns, and how a thrown error becomes
 * the facts the engine judges (message, code and failing document).
 */
import { ConvexError, v, type ObjectType } from "convex/values";
import type { PagePosition } from "../js-shim/src/engine-types/PagePosition.js";
import type { Usage } from "../js-shim/src/engine-types/Usage.js";
import { vDirection, vKeyRange } from "./validators.js";

/**
 * Arguments of a migration function. The first seven are @convex-dev/migrations'
 * (so existing CLI habits keep working); the rest are used by the component.
 */
export const vBatchArgs = {
  fn: v.optional(v.string()),
  cursor: v.optional(v.union(v.string(), v.null())),
  batchSize: v.optional(v.number()),
  dryRun: v.optional(v.boolean()),
  next: v.optional(v.array(v.string())),
  reset: v.optional(v.boolean()),
  oneBatchOnly: v.optional(v.boolean()),
  /**
   * False when the cursor is the one the previous batch of the same chain
   * returned, which needs no check against the table and index.
   */
  checkCursor: v.optional(v.boolean()),
  /** Only documents whose `_creationTime` falls in this range. */
  range: v.optional(vKeyRange),
  /** Describe the migration (defaults, workers) instead of running a batch. */
  describe: v.optional(v.boolean()),
  /** Set when a versioned run calls the shared batch function. */
  versioned: v.optional(
    v.object({
      migrationId: v.string(),
      direction: vDirection,
      runId: v.string(),
      /** The checksum the run planned with: the batch refuses to run other code. */
      checksum: v.optional(v.string()),
    }),
  ),
};
export type BatchArgs = ObjectType<typeof vBatchArgs>;

/** What a migration function answers to `describe: true`. */
export type MigrationDescription = {
  /** Tells a migration's answer from whatever another function returns. */
  kind: typeof MIGRATION_DESCRIPTION;
  table: string;
  batchSize: number;
  maxBatchSize?: number;
  adaptive?: boolean;
  workers: number;
};

/** A document's state before and after a dry-run batch. */
export type DryRunSample = { id: string; before: unknown; after: unknown };

/** What one batch reports back. */
export type BatchResult = {
  continueCursor: string;
  isDone: boolean;
  processed: number;
  updated?: number;
  usage?: Usage;
  samples?: DryRunSample[];
  /** Where the page left the walk: its `_creationTime`, or its index keys for a `customRange`. */
  position?: PagePosition;
};

/** The error a batch throws when `migrateOne` fails on a document. */
export const MIGRATE_ONE_FAILED = "MIGRATE_ONE_FAILED";
/** The error a dry-run batch throws to roll back its writes. */
export const DRY_RUN = "DRY RUN";
/**
 * The error a versioned batch throws when the deployed code is not what its
 * run planned with (a redeploy mid-run). The component stops the run as
 * canceled, so the next start sees the edit as blocking drift.
 */
export const CODE_CHANGED = "CODE_CHANGED";
/** The error a migration throws when its table is not in the app's schema. */
export const UNKNOWN_TABLE = "UNKNOWN_TABLE";
/** The error a migration throws when its `customRange` reads another table. */
export const CUSTOM_RANGE_TABLE = "CUSTOM_RANGE_TABLE";
/** The `kind` of a migration's description: only functions made by the client library answer with it. */
export const MIGRATION_DESCRIPTION = "MIGRATION_DESCRIPTION";

export type DocumentFailure = { kind: typeof MIGRATE_ONE_FAILED; documentId: string; message: string };
export type DryRunOutcome = { kind: typeof DRY_RUN; result: BatchResult };

/** The error when a function answers a batch with something that is not a batch's result. */
export const NOT_A_MIGRATION = "NOT_A_MIGRATION";
/** The always-thrown outcome of a peer-protocol probe: `{ kind, proven }`, so its writes roll back. */
export const PEER_PROBE = "PEER_PROBE";

/**
 * Whether a batch function answered the way a migration does: the peer's
 * `{ continueCursor, isDone, processed }` (what define() returns has more).
 */
export function isBatchResult(answer: unknown): answer is BatchResult {
  const r = answer as Partial<BatchResult> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.continueCursor === "string" &&
    typeof r.isDone === "boolean" &&
    typeof r.processed === "number"
  );
}

export function notABatch(name: string, answer: unknown): ConvexError<{ kind: string; message: string }> {
  const shown = JSON.stringify(answer) ?? String(answer);
  return new ConvexError({
    kind: NOT_A_MIGRATION,
    message:
      `${name} is not a migration: a batch of it answered ${shown.slice(0, 200)}, not { continueCursor, isDone, processed }. ` +
      `Name a function exported from migrations.define(), e.g. "migrations:setDefault".`,
  });
}

/** Pull the message and the failing document out of whatever the batch threw. */
export function failureFacts(error: unknown): { message: string; documentId?: string; code?: string } {
  if (error instanceof ConvexError) {
    const data = error.data as (Partial<DocumentFailure> & { kind?: unknown }) | string;
    if (typeof data === "object" && data !== null && data.kind === MIGRATE_ONE_FAILED) {
      return { message: String(data.message), ...(data.documentId ? { documentId: data.documentId } : {}) };
    }
    const code = typeof data === "object" && data !== null && typeof data.kind === "string" ? { code: data.kind } : {};
    if (typeof data === "object" && data !== null && typeof data.message === "string") {
      return { message: data.message, ...code };
    }
    return { message: typeof data === "string" ? data : JSON.stringify(data), ...code };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

