import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { vDirection, vDriftFinding, vMigrationState, vReleaseRecord, vRepair, vRunState, vWorkerState } from "./validators.js";

/**
 * The component's own tables. App data never lives here: the component only
 * keeps migration state and reaches app tables through the app's batch
 * function, called by handle.
 */
export default defineSchema({
  /**
   * One row per migration function run through the drop-in API (`kind:
   * "function"`), and one per versioned migration and direction (`kind:
   * "versioned"`, named `<id>:<direction>`). Its progress lives in `workers`.
   */
  /*
   * The table keeps the name @convex-dev/migrations gave its own, so a
   * deployment switching over keeps that component's rows here and Convex
   * validates them against this table on push: every field of theirs is
   * accepted, and fields of ours they lack are optional. A row without
   * `kind` is one of theirs, adopted (given a worker) the first time a
   * mutation touches it by name; queries read it as it is.
   */
  migrations: defineTable({
    name: v.string(),
    /** Absent on a row the peer left and nothing here has adopted yet. */
    kind: v.optional(v.union(v.literal("function"), v.literal("versioned"))),
    /** Absent until the migration is started here (a peer row canceled before that). */
    fnHandle: v.optional(v.string()),
    isDone: v.boolean(),
    latestStart: v.number(),
    latestEnd: v.optional(v.number()),
    /** Migrations to run after this one, in order (drop-in `next`). */
    next: v.optional(v.array(v.object({ name: v.string(), fnHandle: v.string() }))),
    /** The series was started with `reset`: each next migration runs again from the start. */
    resetNext: v.optional(v.boolean()),
    /** How many workers (key ranges) this migration runs with. */
    parallelism: v.optional(v.number()),
    /**
     * `peer` for a hand-written mutation speaking @convex-dev/migrations'
     * batch protocol: fixed batches, its own default size unless one is given.
     */
    protocol: v.optional(v.literal("peer")),
    /** The batch size given for a `peer`-protocol function, if any. */
    fixedBatchSize: v.optional(v.number()),
    /** The peer's scheduled hop this row was adopted from: if it ever runs, it does nothing. */
    peerJob: v.optional(v.id("_scheduled_functions")),
    /** The peer's own fields, present only on a row it left (removed on adoption). */
    cursor: v.optional(v.union(v.string(), v.null())),
    workerId: v.optional(v.id("_scheduled_functions")),
    error: v.optional(v.string()),
    processed: v.optional(v.number()),
    /** For versioned migrations: which run, migration id and direction. */
    versioned: v.optional(
      v.object({
        run: v.id("runs"),
        migrationId: v.string(),
        direction: vDirection,
        /**
         * What the run planned for this migration, stored when it started
         * (absent in rows written before): every batch carries the checksum,
         * the version record takes all three.
         */
        checksum: v.optional(v.string()),
        checksumForm: v.optional(v.number()),
        description: v.optional(v.string()),
      }),
    ),
  })
    .index("name", ["name"])
    .index("isDone", ["isDone"]),

  /** One row per worker: a chain of batches over one key range. */
  workers: defineTable({
    migration: v.id("migrations"),
    index: v.number(),
    state: vWorkerState,
    scheduledId: v.optional(v.id("_scheduled_functions")),
  })
    .index("migration", ["migration", "index"])
    // A hop finds its worker by the hop the worker waits for: a stale hop finds none.
    .index("hop", ["migration", "index", "state.nextHop"]),

  /** One row per versioned migration id ever started on this deployment. */
  versions: defineTable({
    migrationId: v.string(),
    description: v.string(),
    state: vMigrationState,
    /** `sha256:<hex>` of the code that last touched data. */
    checksum: v.string(),
    /**
     * The form `checksum` was computed in. Rows written before the form was
     * stored have none: they are form 1, and verified in form 1.
     */
    checksumForm: v.optional(v.number()),
    lastDirection: vDirection,
    lastRun: v.id("runs"),
    appliedAt: v.optional(v.number()),
    rolledBackAt: v.optional(v.number()),
    updatedAt: v.number(),
  }).index("migrationId", ["migrationId"]),

  /** One row per versioned run: its plan, its progress and its release record. */
  runs: defineTable({
    /** True while the run is running; at most one run has it (one writer). */
    active: v.boolean(),
    /** `repair` for a run that accepted drift and touched no data; absent for a migration run. */
    kind: v.optional(v.literal("repair")),
    /** What a repair run accepted, with the old and new checksums. */
    repaired: v.optional(v.array(vRepair)),
    direction: vDirection,
    state: vRunState,
    /**
     * What each planned migration runs with: the checksum recorded (and its
     * form; absent in runs planned before it was stored, which are form 1),
     * whether it resumes.
     */
    planned: v.array(
      v.object({
        id: v.string(),
        checksum: v.string(),
        checksumForm: v.optional(v.number()),
        description: v.string(),
        resume: v.boolean(),
      }),
    ),
    batchFnHandle: v.string(),
    /** Steps (`<id>:<direction>`) that write without triggers, through rawBatchHandle. */
    rawSteps: v.optional(v.array(v.string())),
    rawBatchHandle: v.optional(v.string()),
    batchSize: v.optional(v.number()),
    driftAllowed: v.boolean(),
    drift: v.array(vDriftFinding),
    release: vReleaseRecord,
  }).index("active", ["active"]),
});
