/**
 * Carries out what the engine's job machine (`engine::job`) decides for a
 * migration and its workers: reads the rows, calls `engine.jobStep` once per
 * event, writes what it returns and performs its actions in order. A batch
 * costs one engine call: its outcome, answered with the next batch.
 */
import type { FunctionHandle } from "convex/server";
import { ConvexError } from "convex/values";
import * as engine from "../js-shim/src/engine.js";
import type { BatchOutcome } from "../js-shim/src/engine-types/BatchOutcome.js";
import type { BatchPlan } from "../js-shim/src/engine-types/BatchPlan.js";
import type { JobAction } from "../js-shim/src/engine-types/JobAction.js";
import type { JobEvent } from "../js-shim/src/engine-types/JobEvent.js";
import type { JobWorker } from "../js-shim/src/engine-types/JobWorker.js";
import type { KeyRange } from "../js-shim/src/engine-types/KeyRange.js";
import type { Limits } from "../js-shim/src/engine-types/Limits.js";
import type { RunEvent } from "../js-shim/src/engine-types/RunEvent.js";
import type { Usage } from "../js-shim/src/engine-types/Usage.js";
import { internal } from "./_generated/api.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { MutationCtx } from "./_generated/server.js";
import {
  failureFacts,
  isBatchResult,
  notABatch,
  type BatchArgs,
  MIGRATION_DESCRIPTION,
  type MigrationDescription,
} from "./batchContract.js";
import { picksOwnSize, versionRecord, withHops, withoutHops, workersOf } from "./store.js";

export type StartOptions = {
  /** Given with this start: overrides the size the workers learned. */
  batchSize?: number;
  /** The migration's own size, for workers that start fresh. */
  defaultBatchSize?: number;
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
  /**
   * The function is on trial: when the engine refuses it (its batch here
   * failed), this error is thrown, rolling back the whole start.
   */
  onTrial?: (message: string) => Error;
};

/**
 * Where a versioned migration reports when it settles (the run executor's
 * `reportToRun`): passed in, so the run and job executors need not import
 * each other.
 */
export type RunReporter = (ctx: MutationCtx, migration: Doc<"migrations">, event: RunEvent) => Promise<void>;

/** What a scheduled hop carries: the batch the engine planned for it. */
export type HopArgs = {
  migration: Id<"migrations">;
  index: number;
  hop: number;
  batch: BatchPlan;
  /** The hop that scheduled this one, whose record says when it completed. */
  previous?: Id<"_scheduled_functions">;
  /**
   * When this hop was scheduled: the scheduling transaction's clock, which is
   * its start. Hops scheduled by an earlier version lack it; their own
   * `_scheduled_functions` record tells instead.
   */
  scheduledAt?: number;
  limits?: Limits;
};

/** Start, resume or reset a migration; creates its workers on the first start. */
export async function startJob(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  opts: StartOptions,
  report: RunReporter,
): Promise<void> {
  const rows = await workersOf(ctx, migration._id);
  const event: JobEvent = {
    type: "start",
    nowMs: Date.now(),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.defaultBatchSize !== undefined ? { defaultBatchSize: opts.defaultBatchSize } : {}),
    ...(opts.maxBatchSize !== undefined ? { maxBatchSize: opts.maxBatchSize } : {}),
    ...(opts.adaptive !== undefined ? { adaptive: opts.adaptive } : {}),
    ...(typeof opts.cursor === "string" ? { cursor: opts.cursor } : {}),
    reset: opts.reset ?? false,
    oneBatchOnly: opts.oneBatchOnly ?? false,
    inline: opts.inline ?? false,
    // One worker ramps alone; the engine fans it out to these once its size stops growing.
    workers: opts.parallelism ?? migration.parallelism ?? 1,
  };
  await step(ctx, migration, rows, await withHops(ctx, rows), event, report, opts.limits, await transactionMetrics(ctx), opts.onTrial);
}

/** Record a dead hop or take over a broken chain of a running migration; nothing else. */
export async function checkJob(ctx: MutationCtx, migration: Doc<"migrations">, report: RunReporter): Promise<void> {
  const rows = await workersOf(ctx, migration._id);
  await step(ctx, migration, rows, await withHops(ctx, rows), { type: "check", nowMs: Date.now() }, report);
}

/** Cancel every worker of a migration; takes effect between batches. */
export async function cancelJob(ctx: MutationCtx, migration: Doc<"migrations">, report: RunReporter): Promise<void> {
  const rows = await workersOf(ctx, migration._id);
  await step(ctx, migration, rows, await withHops(ctx, rows), { type: "cancel", nowMs: Date.now() }, report);
}

/**
 * Record that a migration could not start at all (its function is gone or no
 * longer a migration): the engine fails it, so status says why.
 */
export async function refuseStart(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  message: string,
  report: RunReporter,
): Promise<void> {
  const rows = await workersOf(ctx, migration._id);
  await step(ctx, migration, rows, withoutHops(rows), { type: "startRefused", nowMs: Date.now(), message }, report);
}

/**
 * A scheduled hop arrived. It finds its worker by the hop the engine said
 * the worker waits for, so a stale hop finds nothing and does nothing.
 */
export async function hop(ctx: MutationCtx, args: HopArgs, report: RunReporter): Promise<void> {
  const migration = await ctx.db.get(args.migration);
  const own = await ctx.db
    .query("workers")
    .withIndex("hop", (q) => q.eq("migration", args.migration).eq("index", args.index).eq("state.nextHop", args.hop))
    .unique();
  if (!migration || !own) return;
  // Only its own row: parallel workers' hops must not conflict on each
  // other's rows. The engine asks for the siblings when it needs them.
  await runBatch(ctx, migration, [own], args.index, args.batch, report, args.limits, await previousHopMs(ctx, own, args), undefined, true);
}

/**
 * How long the hop before this one ran. The clock stands still inside a
 * transaction, so neither hop can time itself; but this hop was scheduled at
 * the previous one's start, and the previous one's record says when it
 * completed (where the runtime keeps that: convex-test only for failures).
 */
async function previousHopMs(
  ctx: MutationCtx,
  own: Doc<"workers">,
  args: Pick<HopArgs, "previous" | "scheduledAt">,
): Promise<number | undefined> {
  const before = args.previous ? await ctx.db.system.get(args.previous) : null;
  if (before?.completedTime === undefined) return undefined;
  const scheduledAt = args.scheduledAt ?? (own.scheduledId ? (await ctx.db.system.get(own.scheduledId))?.scheduledTime : undefined);
  return scheduledAt === undefined ? undefined : before.completedTime - scheduledAt;
}

/** A hop scheduled by an earlier version (by worker id and generation): the engine judges it. */
export async function legacyHop(
  ctx: MutationCtx,
  args: { worker: Id<"workers">; generation: number; limits?: Limits },
  report: RunReporter,
): Promise<void> {
  const worker = await ctx.db.get(args.worker);
  const migration = worker && (await ctx.db.get(worker.migration));
  if (!worker || !migration) return;
  const rows = await workersOf(ctx, migration._id);
  const event: JobEvent = { type: "tick", index: worker.index, generation: args.generation };
  await step(ctx, migration, rows, withoutHops(rows), event, report, args.limits, await transactionMetrics(ctx));
}

/** Feed one event to the migration, then carry out what the engine returns. */
async function step(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  rows: Doc<"workers">[],
  workers: JobWorker[],
  event: JobEvent,
  report: RunReporter,
  limits?: Limits,
  metrics?: Metrics,
  onTrial?: (message: string) => Error,
  siblingsUnread = false,
): Promise<void> {
  const t = engine.jobStep({
    workers,
    event,
    siblingsUnread,
    ...(limits ? { limits } : {}),
    ...(metrics ?? {}),
    ...(migration.versioned ? { versioned: migration.versioned.direction } : {}),
    hasNext: (migration.next?.length ?? 0) > 0,
    onTrial: onTrial !== undefined,
    ownSize: picksOwnSize(migration),
  });
  const readSiblings = async () => {
    const all = await workersOf(ctx, migration._id);
    await step(ctx, migration, all, withoutHops(all), event, report, limits, metrics, onTrial);
  };
  await perform(ctx, migration, rows, t.actions, report, readSiblings, limits, onTrial);
}

async function perform(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  rows: Doc<"workers">[],
  actions: JobAction[],
  report: RunReporter,
  readSiblings: () => Promise<void>,
  limits?: Limits,
  onTrial?: (message: string) => Error,
) {
  const current = new Map(rows.map((r) => [r.index, r]));
  // The hop each worker had before this step, for the cancels it asks for
  // and for the record that times each new hop.
  const hops = new Map(rows.map((r) => [r.index, r.scheduledId]));
  for (const action of actions) {
    switch (action.type) {
      case "put": {
        const previous = hops.get(action.previousHopOf ?? action.index);
        const scheduledId = action.hop
          ? await ctx.scheduler.runAfter(0, internal.worker.tick, {
              migration: migration._id,
              index: action.index,
              hop: action.hop.generation,
              batch: action.hop,
              ...(previous ? { previous } : {}),
              scheduledAt: Date.now(),
              ...(limits ? { limits } : {}),
            })
          : undefined;
        const row = current.get(action.index);
        if (row) {
          await ctx.db.patch(row._id, { state: action.state, scheduledId });
          current.set(action.index, { ...row, state: action.state, scheduledId });
        } else {
          const id = await ctx.db.insert("workers", {
            migration: migration._id,
            index: action.index,
            state: action.state,
            ...(scheduledId ? { scheduledId } : {}),
          });
          current.set(action.index, (await ctx.db.get(id))!);
        }
        break;
      }
      case "cancelHop": {
        const id = hops.get(action.index);
        if (id) await cancelScheduled(ctx, id);
        break;
      }
      case "runInline":
        await runBatch(ctx, migration, [...current.values()], action.index, action.batch, report, limits, undefined, onTrial);
        break;
      case "began":
        await ctx.db.patch(migration._id, {
          isDone: false,
          latestEnd: undefined,
          ...(action.latestStart !== undefined ? { latestStart: action.latestStart } : {}),
        });
        break;
      case "settled":
        await ctx.db.patch(migration._id, { isDone: action.isDone, latestEnd: action.latestEnd });
        break;
      case "startNext":
        await continueSeries(ctx, migration);
        break;
      case "recordVersion":
        await recordVersion(ctx, migration, action);
        break;
      case "reportToRun":
        await report(ctx, migration, action.event);
        break;
      case "warn":
        console.warn(`Migration ${migration.name} ${action.message}`);
        break;
      case "refuse":
        throw onTrial ? onTrial(action.message) : new Error(`Migration ${migration.name} was refused: ${action.message}`);
      case "readSiblings":
        await readSiblings();
        break;
    }
  }
}

/** Store a versioned migration's state in its record, with what its run planned. */
async function recordVersion(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  action: Extract<JobAction, { type: "recordVersion" }>,
) {
  const item = migration.versioned;
  // The engine records versions only of a versioned run's items.
  if (!item) return;
  const record = await versionRecord(ctx, item.migrationId);
  const fields = {
    state: action.state,
    description: item.description ?? record?.description ?? "",
    checksum: item.checksum ?? record?.checksum ?? "",
    // The form travels with the value it describes; none (form 1) unsets it.
    checksumForm: item.checksum !== undefined ? item.checksumForm : record?.checksumForm,
    lastDirection: item.direction,
    lastRun: item.run,
    updatedAt: Date.now(),
    ...(action.appliedAt !== undefined ? { appliedAt: action.appliedAt } : {}),
    ...(action.rolledBackAt !== undefined ? { rolledBackAt: action.rolledBackAt } : {}),
  };
  if (record) await ctx.db.patch(record._id, fields);
  else await ctx.db.insert("versions", { migrationId: item.migrationId, ...fields });
}

/**
 * Run one batch of the app's function as a nested mutation under the limits
 * the engine planned, then feed its outcome back. A batch that throws rolls
 * back alone; its error goes to the engine as thrown.
 */
async function runBatch(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  rows: Doc<"workers">[],
  index: number,
  plan: BatchPlan,
  report: RunReporter,
  limits?: Limits,
  previousHopMs?: number,
  onTrial?: (message: string) => Error,
  ownRowOnly = false,
): Promise<void> {
  const range = rows.find((r) => r.index === index)?.state.range;
  let outcome: BatchOutcome;
  let refusal: Error | undefined;
  try {
    const result: unknown = await ctx.runMutation(handleOf(migration) as FunctionHandle<"mutation">, batchArgs(migration, range, plan), {
      transactionLimits: toTransactionLimits(plan.limits),
    });
    // Not an outcome of a batch: refused, rolling back this whole transaction.
    if (!isBatchResult(result)) throw (refusal = notABatch(migration.name, result));
    outcome = {
      type: "committed",
      processed: result.processed,
      updated: result.updated ?? result.processed,
      cursor: result.continueCursor,
      isDone: result.isDone,
      ...(result.usage ? { usage: result.usage } : {}),
      ...(result.position ? { position: result.position } : {}),
    };
  } catch (error) {
    if (error === refusal) throw error;
    const facts = failureFacts(error);
    outcome = {
      type: "threw",
      message: facts.message,
      ...(facts.code ? { code: facts.code } : {}),
      ...(facts.documentId ? { documentId: facts.documentId } : {}),
    };
  }
  const event: JobEvent = {
    type: "batchDone",
    index,
    nowMs: Date.now(),
    outcome,
    budget: plan.limits,
    ...(previousHopMs !== undefined ? { previousHopMs } : {}),
  };
  // The batch touched only app tables: the rows read before it are current.
  // The metrics, read once, tell the engine the runtime's real limits, from
  // which it budgets the next hop. A hop read only its own row; a batch that
  // ended its range or threw will need the siblings, so they are read now
  // rather than on the engine's request (one call instead of two).
  const alone = ownRowOnly && outcome.type === "committed" && !outcome.isDone;
  const read = ownRowOnly && !alone ? await workersOf(ctx, migration._id) : rows;
  await step(ctx, migration, read, withoutHops(read), event, report, limits, await transactionMetrics(ctx), onTrial, alone);
}

/** The batch function's arguments for one batch of one worker. */
function batchArgs(migration: Doc<"migrations">, range: KeyRange | undefined, plan: BatchPlan): BatchArgs {
  const item = migration.versioned;
  return {
    cursor: plan.cursor ?? null,
    // The engine says when the function takes its own size instead.
    ...(plan.ownSize ? {} : { batchSize: plan.batchSize }),
    dryRun: false,
    oneBatchOnly: true,
    // A hand-written peer-protocol function takes only the peer's arguments.
    ...(plan.checkCursor || migration.protocol === "peer" ? {} : { checkCursor: false }),
    ...(range ? { range } : {}),
    // A versioned batch carries the checksum its run planned with (stored
    // when the item started), so code redeployed mid-run is refused.
    ...(item
      ? {
          versioned: {
            migrationId: item.migrationId,
            direction: item.direction,
            runId: item.run,
            ...(item.checksum ? { checksum: item.checksum } : {}),
          },
        }
      : {}),
  };
}

type Metrics = { used: Usage; remaining: Usage };

/**
 * What this transaction has used and has left of each limit, when the
 * runtime reports it, read once per call of the engine: a batch run inside
 * it is budgeted from what is left, so the component can always record the
 * outcome (a rolled-back batch's reads still count here), and the two
 * together are the runtime's limits, which budget the next hop.
 */
async function transactionMetrics(ctx: MutationCtx): Promise<Metrics | undefined> {
  try {
    const m = await ctx.meta.getTransactionMetrics();
    type Metric = { used: number; remaining: number } | undefined;
    const pick = (key: "used" | "remaining"): Usage => {
      const n = (metric: Metric) => Math.max(0, Math.floor(metric?.[key] ?? 0));
      return {
        documentsRead: n(m.documentsRead),
        bytesRead: n(m.bytesRead),
        documentsWritten: n(m.documentsWritten),
        bytesWritten: n(m.bytesWritten),
        databaseQueries: n(m.databaseQueries),
      };
    };
    return { used: pick("used"), remaining: pick("remaining") };
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

/**
 * Cancel a hop that has not started. One already running is left alone: its
 * worker no longer waits for it, so it finds nothing and does nothing (and
 * convex-test refuses a job canceled mid-run).
 */
async function cancelScheduled(ctx: MutationCtx, id: Id<"_scheduled_functions">) {
  const job = await ctx.db.system.get(id);
  if (job?.state.kind === "pending") await ctx.scheduler.cancel(id);
}

/**
 * Ask the app's migration function for its defaults.
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

/**
 * Start options from what the migration function says of itself. Its batch
 * size is the size fresh workers start with, never one that overrides what
 * a resumed worker learned.
 */
export function defaultsFrom(d: MigrationDescription): StartOptions {
  return {
    defaultBatchSize: d.batchSize,
    ...(d.maxBatchSize !== undefined ? { maxBatchSize: d.maxBatchSize } : {}),
    ...(d.adaptive !== undefined ? { adaptive: d.adaptive } : {}),
    parallelism: d.workers,
  };
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
