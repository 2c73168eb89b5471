/**
 * Executes what the engine decides for a migration and its workers. Every
 * state change goes through `engine.workerStep`; this file only reads and
 * writes rows, calls the app's batch function and schedules the next hop.
 */
import type { FunctionHandle } from "convex/server";
import { ConvexError } from "convex/values";
import * as engine from "../js-shim/src/engine.js";
import type { WorkerAction as Action } from "../js-shim/src/engine-types/WorkerAction.js";
import type { WorkerEvent as Event } from "../js-shim/src/engine-types/WorkerEvent.js";
import type { KeyRange } from "../js-shim/src/engine-types/KeyRange.js";
import type { Limits } from "../js-shim/src/engine-types/Limits.js";
import type { Usage } from "../js-shim/src/engine-types/Usage.js";
import type { WorkerState } from "../js-shim/src/engine-types/WorkerState.js";
import { internal } from "./_generated/api.js";
import { settleItem } from "./runs.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { MutationCtx, QueryCtx } from "./_generated/server.js";
import {
  classifyFailure,
  isBatchResult,
  notABatch,
  type BatchArgs,
  MIGRATION_DESCRIPTION,
  type MigrationDescription,
} from "./batchContract.js";

export type StartOptions = {
  batchSize?: number;
  maxBatchSize?: number;
  adaptive?: boolean;
  cursor?: string | null;
  reset?: boolean;
  oneBatchOnly?: boolean;
  parallelism?: number;
  limits?: Limits;
  /**
   * Run the first worker's first batch inside this mutation, as the peer's
   * `lib:migrate` does; later batches are scheduled. Off for hops and series.
   */
  inline?: boolean;
};

export async function migrationByName(ctx: QueryCtx, name: string) {
  return await ctx.db
    .query("migrations")
    .withIndex("name", (q) => q.eq("name", name))
    .unique();
}

export async function workersOf(ctx: QueryCtx, migration: Id<"migrations">) {
  return await ctx.db
    .query("workers")
    .withIndex("migration", (q) => q.eq("migration", migration))
    .collect();
}

function versionedTarget(migration: Doc<"migrations">): BatchArgs["versioned"] {
  if (!migration.versioned) return undefined;
  return {
    migrationId: migration.versioned.migrationId,
    direction: migration.versioned.direction,
    runId: migration.versioned.run,
  };
}

/** The batch function's arguments for one worker of one migration. */
async function batchArgs(
  ctx: QueryCtx,
  migration: Doc<"migrations">,
  state: WorkerState,
  action: RunBatch,
): Promise<BatchArgs> {
  const target = versionedTarget(migration);
  // A versioned batch carries the checksum its run planned with, so code
  // redeployed mid-run is refused instead of silently mixed with the old.
  const run = migration.versioned ? await ctx.db.get(migration.versioned.run) : null;
  const checksum = run?.planned.find((p) => p.id === target?.migrationId)?.checksum;
  return {
    cursor: action.cursor ?? null,
    // A hand-written peer-protocol function takes its own default unless a size was given.
    batchSize: migration.protocol === "peer" ? migration.fixedBatchSize : action.batchSize,
    dryRun: false,
    oneBatchOnly: true,
    ...(state.range ? { range: state.range } : {}),
    ...(target ? { versioned: { ...target, ...(checksum ? { checksum } : {}) } } : {}),
  };
}

type RunBatch = Extract<Action, { type: "runBatch" }>;

/**
 * Start (or resume, or reset) every worker of a migration. Creates the
 * workers on first start, one per key range when parallelized.
 */
export async function startWorkers(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  opts: StartOptions,
): Promise<void> {
  let workers = await workersOf(ctx, migration._id);
  if (opts.reset && workers.length > 0) {
    for (const w of workers) {
      if (w.scheduledId) await cancelScheduled(ctx, w.scheduledId);
      await ctx.db.delete(w._id);
    }
    workers = [];
  }
  if (workers.length === 0) {
    const ranges = await rangesFor(ctx, migration, opts.parallelism ?? migration.parallelism ?? 1);
    for (const [index, range] of ranges.entries()) {
      const inline = opts.inline === true && index === 0;
      await applyEvent(ctx, migration, { index, state: undefined, range }, startEvent(opts, range), opts.limits, inline);
    }
    return;
  }
  for (const w of workers) {
    const died = w.state.status === "inProgress" ? await deadHopError(ctx, w.scheduledId) : undefined;
    if (died !== undefined) {
      // Its last hop died whole and recorded nothing: record that first. The
      // engine fails the worker (and stops its siblings); a later start
      // resumes it, so a hop that keeps dying never loops.
      const nowMs = Date.now();
      await applyEvent(ctx, migration, { index: w.index, state: w, range: undefined }, { type: "hopDied", nowMs, ...died }, opts.limits);
      return;
    }
    const stalled = w.state.status === "inProgress" && !(await hopIsLive(ctx, w.scheduledId));
    const inline = opts.inline === true && w.index === 0;
    await applyEvent(ctx, migration, { index: w.index, state: w, range: undefined }, startEvent(opts, undefined, stalled), opts.limits, inline);
  }
}

/**
 * The error a worker's last scheduled hop died with, when it failed as a
 * whole (Convex keeps it in the `_scheduled_functions` record): such a hop
 * recorded nothing, not even its own failure.
 */
export async function deadHopError(
  ctx: QueryCtx,
  id: Id<"_scheduled_functions"> | undefined,
): Promise<{ message?: string } | undefined> {
  if (!id) return undefined;
  const job = await ctx.db.system.get(id);
  if (job?.state.kind !== "failed") return undefined;
  // A runtime may keep no text (convex-test does not): the engine decides what that means.
  const error = (job.state as { error?: unknown }).error;
  return typeof error === "string" ? { message: error } : {};
}

/**
 * Whether a worker says it is running but no hop will carry it on (its
 * scheduled hop was canceled, failed or lost): a start resumes it.
 */
export async function isStalled(ctx: QueryCtx, worker: Doc<"workers">): Promise<boolean> {
  return worker.state.status === "inProgress" && !worker.state.oneBatchOnly && !(await hopIsLive(ctx, worker.scheduledId));
}

/** Whether a worker's next hop is still going to run (pending or running now). */
export async function hopIsLive(ctx: QueryCtx, id: Id<"_scheduled_functions"> | undefined): Promise<boolean> {
  if (!id) return false;
  const job = await ctx.db.system.get(id);
  return job !== null && (job.state.kind === "pending" || job.state.kind === "inProgress");
}

function startEvent(opts: StartOptions, range?: KeyRange, stalled = false): Event {
  return {
    type: "start",
    nowMs: Date.now(),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.maxBatchSize !== undefined ? { maxBatchSize: opts.maxBatchSize } : {}),
    ...(opts.adaptive !== undefined ? { adaptive: opts.adaptive } : {}),
    ...(typeof opts.cursor === "string" ? { cursor: opts.cursor } : {}),
    reset: opts.reset ?? false,
    oneBatchOnly: opts.oneBatchOnly ?? false,
    ...(range ? { range } : {}),
    ...(stalled ? { stalled } : {}),
  } as Event;
}

/**
 * Ask the app's migration function for its defaults and its table's bounds.
 * Any other function is refused here, before a batch is scheduled: one with
 * an argument validator rejects `describe`, one without answers something
 * other than a description, and its writes roll back with the refusal.
 */
export async function describe(
  ctx: MutationCtx,
  fnHandle: string,
  versioned?: BatchArgs["versioned"],
): Promise<MigrationDescription> {
  const described: unknown = await ctx.runMutation(fnHandle as FunctionHandle<"mutation">, {
    describe: true,
    ...(versioned ? { versioned } : {}),
  });
  if ((described as { kind?: unknown } | null)?.kind !== MIGRATION_DESCRIPTION) {
    throw new Error("it did not answer the way a function made by migrations.define() does");
  }
  return described as MigrationDescription;
}

/** Start options from what the migration function says of itself. */
export function defaultsFrom(d: MigrationDescription): StartOptions {
  return {
    batchSize: d.batchSize,
    ...(d.maxBatchSize !== undefined ? { maxBatchSize: d.maxBatchSize } : {}),
    ...(d.adaptive !== undefined ? { adaptive: d.adaptive } : {}),
    parallelism: d.workers,
  };
}

async function rangesFor(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  parallelism: number,
): Promise<(KeyRange | undefined)[]> {
  if (parallelism <= 1) return [undefined];
  const { bounds } = await describe(ctx, handleOf(migration), versionedTarget(migration));
  if (bounds === null) return [undefined];
  return engine.splitRange({ lo: bounds.lo, hi: bounds.hi, parts: parallelism });
}

type WorkerRef = { index: number; state: Doc<"workers"> | undefined; range: KeyRange | undefined };

/** Feed one event to one worker, store the new state, then act on it. */
async function applyEvent(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  worker: WorkerRef,
  event: Event,
  limits?: Limits,
  inline = false,
): Promise<Action> {
  const t = engine.workerStep({
    ...(worker.state ? { state: worker.state.state } : {}),
    event,
    ...(limits ? { limits } : {}),
  });
  if (t.action.type === "nothing") return t.action;
  let row = worker.state;
  if (row) {
    await ctx.db.patch(row._id, { state: t.state, scheduledId: undefined });
    row = { ...row, state: t.state, scheduledId: undefined };
  } else {
    const id = await ctx.db.insert("workers", { migration: migration._id, index: worker.index, state: t.state });
    row = (await ctx.db.get(id))!;
  }
  await act(ctx, migration, row, t.action, limits, inline);
  return t.action;
}

/** Carry out one action the engine returned for one worker. */
async function act(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  worker: Doc<"workers">,
  action: Action,
  limits?: Limits,
  inline = false,
): Promise<void> {
  switch (action.type) {
    case "runBatch":
      // The engine says where the batch may run; `inline` says whether this
      // call is a start, whose transaction may carry the first batch.
      if (action.inline === "always" || (inline && action.inline === "allowed")) {
        await runBatch(ctx, migration, worker, action, limits);
      } else {
        const scheduledId = await ctx.scheduler.runAfter(0, internal.worker.tick, {
          worker: worker._id,
          generation: action.generation,
          ...(limits ? { limits } : {}),
        });
        await ctx.db.patch(worker._id, { scheduledId });
      }
      return;
    case "finish":
      await finishIfAllDone(ctx, migration);
      return;
    case "fail":
      await stopSiblings(ctx, migration, worker, "halt");
      await onMigrationSettled(ctx, migration, "failed", action.failure.message);
      return;
    case "cancelJob":
      console.warn(`Migration ${migration.name} stopped as canceled: ${action.reason}`);
      await stopSiblings(ctx, migration, worker, "cancelRequested");
      await onMigrationSettled(ctx, migration, "canceled", action.reason);
      return;
    case "stop":
    case "nothing":
      return;
  }
}

/**
 * Run one batch of the app's function as a nested mutation under limits
 * that leave room for this transaction's own writes, then feed the outcome
 * back to the engine. A batch that throws rolls back alone.
 */
export async function runBatch(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  worker: Doc<"workers">,
  action: RunBatch,
  limits?: Limits,
): Promise<void> {
  const remaining = await remainingInTransaction(ctx);
  const nested = engine.batchLimits({ ...(limits ? { limits } : {}), ...(remaining ? { remaining } : {}) });
  const startedMs = Date.now();
  let event: Event;
  let refusal: Error | undefined;
  try {
    const result: unknown = await ctx.runMutation(
      handleOf(migration) as FunctionHandle<"mutation">,
      await batchArgs(ctx, migration, worker.state, action),
      { transactionLimits: toTransactionLimits(nested) },
    );
    // Not an outcome of a batch: refused, rolling back this whole transaction.
    if (!isBatchResult(result)) throw (refusal = notABatch(migration.name, result));
    event = {
      type: "batchCommitted",
      nowMs: Date.now(),
      processed: result.processed,
      updated: result.updated ?? result.processed,
      cursor: result.continueCursor,
      isDone: result.isDone,
      elapsedMs: Date.now() - startedMs,
      ...(result.usage ? { usage: result.usage } : {}),
      budget: nested,
      ...(result.position ? { position: result.position } : {}),
    };
  } catch (error) {
    if (error === refusal) throw error;
    const failure = classifyFailure(error);
    event = {
      type: "batchFailed",
      nowMs: Date.now(),
      kind: failure.kind,
      message: failure.message,
      ...(failure.documentId ? { documentId: failure.documentId } : {}),
    };
  }
  await applyEvent(ctx, migration, { index: worker.index, state: worker, range: undefined }, event, limits);
}

/**
 * What this transaction has left of each limit, when the runtime reports
 * it: the nested batch is budgeted from it, so the component can always
 * record the batch's outcome (a rolled-back batch's reads still count here).
 */
async function remainingInTransaction(ctx: MutationCtx): Promise<Usage | undefined> {
  try {
    const m = await ctx.meta.getTransactionMetrics();
    const left = (metric: { remaining: number } | undefined) => Math.max(0, Math.floor(metric?.remaining ?? 0));
    return {
      documentsRead: left(m.documentsRead),
      bytesRead: left(m.bytesRead),
      documentsWritten: left(m.documentsWritten),
      bytesWritten: left(m.bytesWritten),
      databaseQueries: left(m.databaseQueries),
    };
  } catch {
    return undefined;
  }
}

function toTransactionLimits(limits: Limits) {
  return {
    documentsRead: limits.documentsRead,
    bytesRead: limits.bytesRead,
    documentsWritten: limits.documentsWritten,
    bytesWritten: limits.bytesWritten,
    databaseQueries: limits.databaseQueries,
  };
}

/** A scheduled hop arrived for a worker. */
export async function tick(
  ctx: MutationCtx,
  workerId: Id<"workers">,
  generation: number,
  limits?: Limits,
): Promise<void> {
  const worker = await ctx.db.get(workerId);
  if (!worker) return;
  const migration = await ctx.db.get(worker.migration);
  if (!migration) return;
  const t = engine.workerStep({
    state: worker.state,
    event: { type: "tick", generation },
    ...(limits ? { limits } : {}),
  });
  if (t.action.type !== "runBatch") return;
  await ctx.db.patch(worker._id, { scheduledId: undefined });
  await runBatch(ctx, migration, { ...worker, scheduledId: undefined }, t.action, limits);
}

/**
 * Record that a migration could not start at all (its function is gone or no
 * longer a migration): the engine fails its first worker, so status says why.
 */
export async function refuseStart(ctx: MutationCtx, migration: Doc<"migrations">, message: string): Promise<void> {
  const [first] = (await workersOf(ctx, migration._id)).sort((a, b) => a.index - b.index);
  await applyEvent(
    ctx,
    migration,
    { index: first?.index ?? 0, state: first, range: undefined },
    { type: "startRefused", nowMs: Date.now(), message },
  );
}

/** Cancel every worker of a migration; takes effect between batches. */
export async function cancelWorkers(ctx: MutationCtx, migration: Doc<"migrations">): Promise<boolean> {
  let canceled = false;
  for (const w of await workersOf(ctx, migration._id)) {
    const action = await applyEvent(
      ctx,
      migration,
      { index: w.index, state: w, range: undefined },
      { type: "cancelRequested", nowMs: Date.now() },
    );
    if (action.type !== "nothing") {
      canceled = true;
      if (w.scheduledId) await cancelScheduled(ctx, w.scheduledId);
    }
  }
  if (canceled) await onMigrationSettled(ctx, migration, "canceled");
  return canceled;
}

/**
 * Stop every other worker of a migration: `halt` pauses them after a
 * sibling failed (they resume from their cursors), `cancelRequested` cancels
 * them with the migration.
 */
async function stopSiblings(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  origin: Doc<"workers">,
  type: "halt" | "cancelRequested",
) {
  for (const w of await workersOf(ctx, migration._id)) {
    if (w._id === origin._id) continue;
    const action = await applyEvent(
      ctx,
      migration,
      { index: w.index, state: w, range: undefined },
      { type, nowMs: Date.now() },
    );
    if (action.type !== "nothing" && w.scheduledId) await cancelScheduled(ctx, w.scheduledId);
  }
}

/**
 * Cancel a hop that has not started. One already running is left alone: the
 * caller has bumped the worker's generation, so that hop finds itself stale
 * and does nothing (and convex-test refuses a job canceled mid-run).
 */
async function cancelScheduled(ctx: MutationCtx, id: Id<"_scheduled_functions">) {
  const job = await ctx.db.system.get(id);
  if (job?.state.kind === "pending") await ctx.scheduler.cancel(id);
}

async function finishIfAllDone(ctx: MutationCtx, migration: Doc<"migrations">) {
  const workers = await workersOf(ctx, migration._id);
  const summary = engine.summarize({ workers: workers.map((w) => w.state), nowMs: Date.now() });
  if (summary.status !== "success") return;
  await ctx.db.patch(migration._id, { isDone: true, latestEnd: Date.now() });
  await onMigrationSettled(ctx, { ...migration, isDone: true }, "success");
}

/**
 * What happens after a migration settles: the drop-in API starts the next
 * migration of its series; a versioned migration reports to its run.
 */
async function onMigrationSettled(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  outcome: "success" | "failed" | "canceled",
  message?: string,
) {
  if (migration.versioned) {
    await settleItem(ctx, migration, outcome, message);
    return;
  }
  if (outcome === "success") await continueSeries(ctx, migration);
}

/** Start the next migration of a drop-in series, if there is one. */
export async function continueSeries(ctx: MutationCtx, migration: Doc<"migrations">) {
  const [first, ...rest] = migration.next ?? [];
  if (!first) return;
  await ctx.scheduler.runAfter(0, internal.worker.startNext, {
    name: first.name,
    fnHandle: first.fnHandle,
    next: rest,
    ...(migration.resetNext ? { reset: true } : {}),
  });
}

/** The migration's function handle; every path that runs a batch has set it. */
export function handleOf(migration: Doc<"migrations">): string {
  if (migration.fnHandle === undefined) {
    throw new ConvexError({
      kind: "INVALID_FUNCTION",
      message: `Migration ${migration.name} has no function to run yet. Start it with its runner (migrations.runner()) or runOne.`,
    });
  }
  return migration.fnHandle;
}

/** Throws a clear error when a handle cannot be a function handle. */
export function assertHandle(fnHandle: string) {
  if (!fnHandle.startsWith("function://")) {
    throw new ConvexError({
      kind: "INVALID_FUNCTION",
      message:
        // The peer's words first, so code matching on them keeps working.
        `Invalid fnHandle: Invalid function handle ${JSON.stringify(fnHandle.slice(0, 80))}. Start migrations through ` +
        "the runner your app exports (migrations.runner()) or the convex-migrate CLI, not by calling the component directly.",
    });
  }
}
