/**
 * Versioned runs: start (one active run per deployment), status (a query:
 * it never competes with the run it reports on) and cancel.
 */
import { ConvexError, v } from "convex/values";
import * as engine from "../js-shim/src/fullEngine.js";
import type { AppliedRecord } from "../js-shim/src/engine-types/AppliedRecord.js";
import type { Doc } from "./_generated/dataModel.js";
import { mutation, query, type MutationCtx, type QueryCtx } from "./_generated/server.js";
import { assertHandle, cancelJob, checkJob } from "./jobs.js";
import { reportToRun, stepRun } from "./runs.js";
import { activeRun, jobName, migrationByName, versionRecord, withHops, workersOf } from "./store.js";
import { CONVEX_MIGRATE_VERSION } from "./version.js";
import {
  vDirection,
  vDriftFinding,
  vItemStatus,
  vEstimate,
  vMigrationDef,
  vMigrationState,
  vPlanItem,
  vRelease,
  vReleaseRecord,
  vRepair,
  vRepairReply,
  vRunStatus,
  vStartOptions,
  vStartReply,
} from "./validators.js";

const vStartResult = v.object({
  status: vStartReply,
  runId: v.optional(v.string()),
  /** True when another run was already active: this is that run, nothing new started. */
  alreadyRunning: v.optional(v.boolean()),
  driftAllowed: v.optional(v.boolean()),
  plan: v.array(vPlanItem),
  drift: v.array(vDriftFinding),
});

async function records(ctx: QueryCtx): Promise<AppliedRecord[]> {
  const rows = await ctx.db.query("versions").collect();
  return rows.map((r) => ({
    id: r.migrationId,
    checksum: r.checksum,
    ...(r.checksumForm !== undefined ? { checksumForm: r.checksumForm } : {}),
    state: r.state,
    lastDirection: r.lastDirection,
    description: r.description,
  }));
}

/**
 * Decide and start a run. The engine checks drift and plans; a refused start
 * (drift, no down step, bad arguments) writes nothing.
 */
export const start = mutation({
  args: {
    ...vStartOptions,
    manifest: v.array(vMigrationDef),
    batchHandle: v.string(),
    rawBatchHandle: v.optional(v.string()),
    rawSteps: v.optional(v.array(v.string())),
  },
  returns: vStartResult,
  handler: async (ctx, args) => {
    assertHandle(args.batchHandle);
    // Checked on every path, a dry run included, before anything is read or written.
    if (args.batchSize !== undefined) engine.checkBatchSize({ batchSize: args.batchSize });
    const active = await activeRun(ctx);
    const decision = engine.decideStart({
      manifest: args.manifest,
      records: await records(ctx),
      direction: args.direction ?? "up",
      ...(args.steps !== undefined ? { steps: args.steps } : {}),
      ...(args.to !== undefined ? { to: args.to } : {}),
      dryRun: args.dryRun ?? false,
      allowDrift: args.allowDrift ?? false,
      strict: args.strict ?? false,
      restart: args.restart ?? false,
      ...(args.keep !== undefined ? { keep: args.keep } : {}),
      ...(active ? { activeRunId: active._id } : {}),
    });
    if (decision.status === "already_running" && active) {
      await resumeStalled(ctx, active);
      return {
        status: decision.reply,
        runId: active._id,
        alreadyRunning: true,
        plan: active.state.items.map((i) => ({
          id: i.id,
          direction: i.direction,
          table: "",
          resume: false,
          hasDown: decision.manifest.some((m) => m.id === i.id && m.down !== undefined),
        })),
        drift: decision.drift,
      };
    }
    if (decision.status !== "running") {
      return {
        status: decision.reply,
        plan: decision.plan,
        drift: decision.drift,
        ...(decision.driftAllowed ? { driftAllowed: true } : {}),
      };
    }
    const direction = args.direction ?? "up";
    const runId = await ctx.db.insert("runs", {
      active: true,
      direction,
      state: engine.newRun({
        items: decision.plan.map((p) => ({ id: p.id, direction: p.direction })),
        nowMs: Date.now(),
      }),
      planned: decision.plan.map((p) => {
        const entry = decision.manifest.find((m) => m.id === p.id);
        return {
          id: p.id,
          checksum: entry?.checksum ?? "",
          ...(entry ? { checksumForm: entry.checksumForm } : {}),
          description: entry?.description ?? "",
          resume: p.resume,
        };
      }),
      batchFnHandle: args.batchHandle,
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
      ...(args.rawSteps ? { rawSteps: args.rawSteps } : {}),
      ...(args.rawBatchHandle ? { rawBatchHandle: args.rawBatchHandle } : {}),
      driftAllowed: decision.driftAllowed,
      drift: decision.drift,
      release: { ...args.release, convexMigrateVersion: CONVEX_MIGRATE_VERSION },
    });
    await stepRun(ctx, (await ctx.db.get(runId))!, { type: "begin", nowMs: Date.now() });
    return {
      status: decision.reply,
      runId,
      plan: decision.plan,
      drift: decision.drift,
      ...(decision.driftAllowed ? { driftAllowed: true } : {}),
    };
  },
});

/**
 * The active run's current migration goes on from its cursor if its chain
 * broke (its scheduled batch was canceled or lost), and a hop that died is
 * recorded. The engine leaves a live chain alone, so this never makes a
 * second writer.
 */
async function resumeStalled(ctx: MutationCtx, run: Doc<"runs">) {
  const item = run.state.current !== undefined ? run.state.items[run.state.current] : undefined;
  const job = item ? await migrationByName(ctx, jobName(item.id, item.direction)) : null;
  if (job) await checkJob(ctx, job, reportToRun);
}

const vProgress = v.object({
  processed: v.number(),
  updated: v.number(),
  batches: v.number(),
  ratePerSec: v.number(),
  batchSize: v.number(),
  elapsedMs: v.number(),
  workers: v.number(),
  /** Set when no scheduled batch will continue this migration; `start` resumes it. */
  stalled: v.optional(v.boolean()),
  /** Why the last batch died as a whole, until a start records it as the item's failure. */
  error: v.optional(v.string()),
  /** Fraction done and time left for this migration. */
  estimate: v.optional(vEstimate),
});

const vRunView = v.object({
  runId: v.string(),
  /** `repair` for a run that accepted drift (see `repaired`); absent for a migration run. */
  kind: v.optional(v.literal("repair")),
  repaired: v.optional(v.array(vRepair)),
  status: vRunStatus,
  direction: vDirection,
  startedAt: v.number(),
  endedAt: v.optional(v.number()),
  error: v.optional(v.string()),
  driftAllowed: v.boolean(),
  release: vReleaseRecord,
  items: v.array(
    v.object({
      id: v.string(),
      direction: v.string(),
      status: vItemStatus,
      processed: v.number(),
      updated: v.number(),
      startedAt: v.optional(v.number()),
      endedAt: v.optional(v.number()),
      executionMs: v.optional(v.number()),
      error: v.optional(v.string()),
      progress: v.optional(vProgress),
    }),
  ),
  /** The run's progress across its planned migrations. */
  estimate: v.optional(vEstimate),
});

async function runView(ctx: QueryCtx, run: Doc<"runs">) {
  const items = await Promise.all(
    run.state.items.map(async (item) => {
      const live = item.status === "running" ? await progressOf(ctx, jobName(item.id, item.direction)) : undefined;
      return {
        id: item.id,
        direction: item.direction,
        status: item.status,
        processed: live?.processed ?? item.processed,
        updated: live?.updated ?? item.updated,
        ...(item.startedMs !== undefined ? { startedAt: item.startedMs } : {}),
        ...(item.endedMs !== undefined ? { endedAt: item.endedMs } : {}),
        ...(item.startedMs !== undefined && item.endedMs !== undefined
          ? { executionMs: item.endedMs - item.startedMs }
          : {}),
        ...(item.error !== undefined ? { error: item.error } : {}),
        ...(live ? { progress: live } : {}),
      };
    }),
  );
  return {
    runId: run._id,
    ...(run.kind ? { kind: run.kind } : {}),
    ...(run.repaired ? { repaired: run.repaired } : {}),
    status: run.state.status,
    direction: run.direction,
    startedAt: run.state.startedMs,
    ...(run.state.endedMs !== undefined ? { endedAt: run.state.endedMs } : {}),
    ...(run.state.error !== undefined ? { error: run.state.error } : {}),
    driftAllowed: run.driftAllowed,
    release: run.release,
    items,
    estimate: engine.runEstimate({
      items: items.map((item) => ({
        status: item.status,
        ...(item.progress?.estimate ? { estimate: item.progress.estimate } : {}),
      })),
    }),
  };
}

async function progressOf(ctx: QueryCtx, name: string) {
  const migration = await migrationByName(ctx, name);
  if (!migration) return undefined;
  const workers = await workersOf(ctx, migration._id);
  if (workers.length === 0) return undefined;
  const { progress, estimate } = engine.summarize({ workers: workers.map((w) => w.state), nowMs: Date.now() });
  const view = engine.jobView({ workers: await withHops(ctx, workers) });
  return {
    ...(view.stalled ? { stalled: true } : {}),
    ...(view.deadHop !== undefined ? { error: view.deadHop } : {}),
    processed: progress.processed,
    updated: progress.updated,
    batches: progress.batches,
    ratePerSec: progress.ratePerSec,
    batchSize: progress.batchSize,
    elapsedMs: progress.elapsedMs,
    workers: progress.workers,
    estimate,
  };
}

/**
 * The active run, recent runs with their release records, every migration's
 * state, the pending ids and drift. Reads only the component's own tables.
 */
export const status = query({
  args: { manifest: v.array(vMigrationDef), limit: v.optional(v.number()) },
  returns: v.object({
    activeRun: v.union(vRunView, v.null()),
    recentRuns: v.array(vRunView),
    migrations: v.array(
      v.object({
        id: v.string(),
        description: v.string(),
        state: vMigrationState,
        checksum: v.string(),
        /** The form of `checksum`. */
        checksumForm: v.number(),
        storedChecksum: v.optional(v.string()),
        inManifest: v.boolean(),
        /** The form of the stored checksum: the record's `checksumForm`, or 1 for a record without one. */
        storedForm: v.optional(v.number()),
        /** True when the shipped code has the stored checksum, in the stored form. */
        codeUnchanged: v.optional(v.boolean()),
        hasDown: v.boolean(),
        appliedAt: v.optional(v.number()),
        rolledBackAt: v.optional(v.number()),
      }),
    ),
    pending: v.array(v.string()),
    drift: v.array(vDriftFinding),
  }),
  handler: async (ctx, args) => {
    const report = engine.statusReport({ manifest: args.manifest, records: await records(ctx) });
    const active = await activeRun(ctx);
    const recent = await ctx.db
      .query("runs")
      .order("desc")
      .take(args.limit ?? 10);
    const versions = new Map((await ctx.db.query("versions").collect()).map((r) => [r.migrationId, r]));
    return {
      activeRun: active ? await runView(ctx, active) : null,
      recentRuns: await Promise.all(recent.map((r) => runView(ctx, r))),
      migrations: report.migrations.map((m) => {
        const r = versions.get(m.id);
        return {
          ...m,
          ...(r?.appliedAt !== undefined ? { appliedAt: r.appliedAt } : {}),
          ...(r?.rolledBackAt !== undefined ? { rolledBackAt: r.rolledBackAt } : {}),
        };
      }),
      pending: report.pending,
      drift: report.drift,
    };
  },
});

/** Cancel the active run (or the given one) between batches; `start` resumes it. */
export const cancel = mutation({
  args: { runId: v.optional(v.string()) },
  returns: v.object({ canceled: v.boolean(), runId: v.optional(v.string()), message: v.string() }),
  handler: async (ctx, args) => {
    const id = args.runId !== undefined ? ctx.db.normalizeId("runs", args.runId) : null;
    if (args.runId !== undefined && id === null) {
      throw new ConvexError({
        kind: "UNKNOWN_RUN",
        message: `No run has id ${args.runId}. Leave out --run-id to cancel the active run.`,
      });
    }
    const run = id ? await ctx.db.get(id) : await activeRun(ctx);
    if (!run || run.state.status !== "running") {
      return { canceled: false, message: "No run is active; nothing to cancel." };
    }
    const item = run.state.current !== undefined ? run.state.items[run.state.current] : undefined;
    const job = item ? await migrationByName(ctx, jobName(item.id, item.direction)) : null;
    // The job reports its cancel to the run; between two migrations there is
    // no job to stop, and the run's own cancel ends it (the engine answers
    // nothing when the job's report already did).
    if (job) await cancelJob(ctx, job, reportToRun);
    await stepRun(ctx, (await ctx.db.get(run._id))!, { type: "cancelRequested", nowMs: Date.now() });
    return { canceled: true, runId: run._id, message: `Run ${run._id} canceled; start resumes it.` };
  },
});

/**
 * Accept, on the record, that applied migrations were edited or deleted on
 * purpose: an edited one's record takes the deployed checksum, a deleted one
 * is marked `removed`. Touches no app data. The engine decides what is
 * accepted and refuses while a run is active; this stores its answer and a
 * run of kind `repair` (who, when, commit, old and new checksums).
 */
export const repair = mutation({
  args: {
    manifest: v.array(vMigrationDef),
    /** Only these migrations; every edited or deleted one when absent. */
    ids: v.optional(v.array(v.string())),
    batchHandle: v.string(),
    release: v.optional(vRelease),
  },
  returns: v.object({
    status: vRepairReply,
    runId: v.optional(v.string()),
    repaired: v.array(vRepair),
    /** The drift found before the repair. */
    drift: v.array(vDriftFinding),
  }),
  handler: async (ctx, args) => {
    assertHandle(args.batchHandle);
    const active = await activeRun(ctx);
    const decision = engine.decideRepair({
      manifest: args.manifest,
      records: await records(ctx),
      ...(args.ids !== undefined ? { ids: args.ids } : {}),
      ...(active ? { activeRunId: active._id } : {}),
      nowMs: Date.now(),
    });
    if (!decision.run) return { status: decision.reply, repaired: [], drift: decision.drift };
    const runId = await ctx.db.insert("runs", {
      active: false,
      kind: "repair",
      repaired: decision.repairs,
      direction: "up",
      state: decision.run,
      planned: [],
      batchFnHandle: args.batchHandle,
      driftAllowed: false,
      drift: decision.drift,
      release: { ...args.release, convexMigrateVersion: CONVEX_MIGRATE_VERSION },
    });
    for (const accepted of decision.repairs) {
      // The engine repairs only records it was given, all read above in this transaction.
      const record = (await versionRecord(ctx, accepted.id))!;
      await ctx.db.patch(record._id, {
        state: accepted.state,
        ...(accepted.newChecksum !== undefined ? { checksum: accepted.newChecksum, checksumForm: accepted.newForm } : {}),
        lastRun: runId,
        updatedAt: Date.now(),
      });
    }
    return { status: decision.reply, runId, repaired: decision.repairs, drift: decision.drift };
  },
});
