/**
 * The drop-in API: the same functions, arguments and status rows as
 * @convex-dev/migrations' component, driven by the engine's state machine.
 * Components' functions are reachable only from the app that mounts them.
 */
import type { FunctionHandle } from "convex/server";
import { ConvexError, v, type ObjectType } from "convex/values";
import * as engine from "../js-shim/src/engine.js";
import { EngineError } from "../js-shim/src/engine.js";
import type { Doc } from "./_generated/dataModel.js";
import { internal } from "./_generated/api.js";
import { mutation, query, type MutationCtx } from "./_generated/server.js";
import {
  CUSTOM_RANGE_TABLE,
  DRY_RUN,
  NOT_A_MIGRATION,
  PEER_PROBE,
  UNKNOWN_TABLE,
  failureFacts,
  isBatchResult,
  type DryRunOutcome,
  type MigrationDescription,
} from "./batchContract.js";
import { assertHandle, cancelJob, continueSeries, defaultsFrom, describe, startJob } from "./jobs.js";
import { adoptPeerRow, isPeerHop, isPeerRow } from "./peer.js";
import { reportToRun } from "./runs.js";
import { migrationByName } from "./store.js";
import { neverRun, statusOf } from "./status.js";
import { vLimits, vMigrationStatus, type MigrationStatus } from "./validators.js";

const vNext = v.array(v.object({ name: v.string(), fnHandle: v.string() }));

const vMigrateArgs = {
  name: v.string(),
  fnHandle: v.string(),
  cursor: v.optional(v.union(v.string(), v.null())),
  batchSize: v.optional(v.number()),
  maxBatchSize: v.optional(v.number()),
  adaptive: v.optional(v.boolean()),
  workers: v.optional(v.number()),
  oneBatchOnly: v.optional(v.boolean()),
  next: v.optional(vNext),
  dryRun: v.boolean(),
  reset: v.optional(v.boolean()),
  limits: v.optional(vLimits),
};
export type MigrateArgs = ObjectType<typeof vMigrateArgs>;

/**
 * Start, resume or reset a migration (and the series after it). Runs its
 * first batch inside this mutation, schedules the rest, and returns its
 * status. Starting a migration that is already running changes nothing.
 */
export const migrate = mutation({
  args: vMigrateArgs,
  returns: vMigrationStatus,
  handler: async (ctx, args) => {
    // Every later migration of the series is checked now, so a wrong entry
    // refuses the whole start instead of silently ending the series later.
    for (const next of args.next ?? []) {
      assertHandle(next.fnHandle);
      await checkNextEntry(ctx, next, args.name);
    }
    return await startMigration(ctx, args);
  },
});

/**
 * A series entry is a migration that describes itself or a hand-written
 * mutation speaking the peer's batch protocol. The latter is proven by one
 * dry batch in a transaction that is always rolled back, so nothing of it
 * is kept; anything else refuses the start.
 */
async function checkNextEntry(ctx: MutationCtx, next: { name: string; fnHandle: string }, of: string) {
  try {
    await describeMigration(ctx, next.name, next.fnHandle, ` (listed in next of ${of})`);
  } catch (error) {
    const kind = error instanceof ConvexError ? (error.data as { kind?: unknown })?.kind : undefined;
    if (kind !== NOT_A_MIGRATION) throw error;
    const answer = await ctx.runMutation(internal.worker.probePeerProtocol, { fnHandle: next.fnHandle }).then(
      () => undefined,
      (probe: unknown) => (probe instanceof ConvexError ? (probe.data as { kind?: unknown; proven?: unknown }) : {}),
    );
    if (answer?.kind !== PEER_PROBE || answer.proven !== true) throw error;
  }
}

/** A migration's description, or an error saying that the function is not one. */
async function describeMigration(ctx: MutationCtx, name: string, fnHandle: string, where = "") {
  return await describe(ctx, fnHandle).catch((error: unknown) => {
    if (refusedItsOwnDescription(error)) throw error;
    throw new ConvexError({
      kind: NOT_A_MIGRATION,
      message:
        `${name}${where} is not a migration: ${error instanceof Error ? error.message : String(error)}. ` +
        `Name a function exported from migrations.define(), e.g. "migrations:setDefault".`,
    });
  });
}

/** A migration that refused its own description (another table) says why itself. */
function refusedItsOwnDescription(error: unknown): boolean {
  const kind = error instanceof ConvexError ? (error.data as { kind?: unknown })?.kind : undefined;
  return kind === UNKNOWN_TABLE || kind === CUSTOM_RANGE_TABLE;
}

/** What `lib:migrate` does; a series' next migration starts the same way. */
export async function startMigration(ctx: MutationCtx, args: MigrateArgs): Promise<MigrationStatus> {
  // Every path checks the sizes, a dry run and a skipped completed migration too.
  checkBatchSize(args.batchSize, args.maxBatchSize);
  assertHandle(args.fnHandle);
  const found = await migrationByName(ctx, args.name);
  // The old code's scheduled hop, arriving after its row was taken over.
  if (found && (await isPeerHop(ctx, found))) return await statusOf(ctx, found);
  // Adopting a peer row writes; a dry run keeps nothing and reads it as it is.
  const existing = found && !args.dryRun ? await adoptPeerRow(ctx, found) : found;
  // The peer's hop resumes at the cursor its row saved: that is no new starting point.
  const cursor = found && isPeerRow(found) && args.cursor === found.cursor ? undefined : args.cursor;
  const skipped =
    existing !== null &&
    engine.skipsStart({
      isDone: existing.isDone,
      reset: args.reset ?? false,
      cursorGiven: typeof cursor === "string",
      dryRun: args.dryRun,
    });
  if (existing && skipped) {
    // Completed migrations are skipped before their function is called; a series moves on.
    await ctx.db.patch(existing._id, {
      fnHandle: args.fnHandle,
      ...(args.next ? { next: args.next, resetNext: undefined } : {}),
    });
    const done = (await ctx.db.get(existing._id))!;
    await continueSeries(ctx, done);
    return await statusOf(ctx, done);
  }
  let described: MigrationDescription | undefined;
  let refusal: unknown;
  try {
    described = await describe(ctx, args.fnHandle);
  } catch (error) {
    if (refusedItsOwnDescription(error)) throw error;
    refusal = error;
  }
  if (typeof cursor === "string") await assertOwnCursor(ctx, args.name, cursor);
  const run = { ...args, cursor };
  if (!described) return await startPeerProtocol(ctx, run, existing, refusal);
  const batchSize = args.batchSize ?? described.batchSize;
  checkBatchSize(batchSize, args.maxBatchSize);
  if (args.dryRun) return await dryRunOnce(ctx, { ...run, batchSize });
  const upserted = await upsert(ctx, run, described.workers);
  // It describes itself now: whatever ran under this name before by the peer's protocol is replaced.
  if (upserted.protocol) await ctx.db.patch(upserted._id, { protocol: undefined, fixedBatchSize: undefined });
  const migration = upserted.protocol ? (await ctx.db.get(upserted._id))! : upserted;
  await startJob(ctx, migration, {
    ...defaultsFrom(described),
    // Only a size given with this start overrides what workers learned.
    ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
    ...(args.maxBatchSize !== undefined ? { maxBatchSize: args.maxBatchSize } : {}),
    ...(args.adaptive !== undefined ? { adaptive: args.adaptive } : {}),
    ...(args.workers !== undefined ? { parallelism: args.workers } : {}),
    cursor: args.reset ? null : cursor,
    reset: args.reset ?? false,
    oneBatchOnly: args.oneBatchOnly ?? false,
    inline: true,
    ...(args.limits ? { limits: args.limits } : {}),
  }, reportToRun);
  return await statusOf(ctx, (await ctx.db.get(migration._id))!);
}

/**
 * A function that does not describe itself may be a hand-written mutation
 * speaking the peer's batch protocol. It runs with fixed batches, its own
 * default size unless one is given. Its first batch here is the proof: one
 * that throws or answers anything else refuses the whole start, so nothing
 * of it is kept.
 */
async function startPeerProtocol(
  ctx: MutationCtx,
  args: MigrateArgs,
  existing: Doc<"migrations"> | null,
  refusal: unknown,
): Promise<MigrationStatus> {
  const proven = existing?.protocol === "peer";
  const notAMigration = (reason: unknown) =>
    new ConvexError({
      kind: NOT_A_MIGRATION,
      message:
        `${args.name} is not a migration: ${failureFacts(reason).message}. ` +
        `Name a function exported from migrations.define(), e.g. "migrations:setDefault", or a mutation that takes ` +
        "{ cursor, batchSize, dryRun } and returns { continueCursor, isDone, processed }.",
    });
  if (args.dryRun) {
    return await dryRunOnce(ctx, { ...args, batchSize: args.batchSize }, {
      onTrial: !proven,
      refuse: (thrown) => notAMigration(thrown ?? refusal),
    });
  }
  const migration = await upsert(ctx, args, 1);
  await ctx.db.patch(migration._id, { protocol: "peer", fixedBatchSize: args.batchSize });
  await startJob(ctx, (await ctx.db.get(migration._id))!, {
    ...(args.batchSize !== undefined ? { batchSize: args.batchSize, maxBatchSize: args.batchSize } : {}),
    adaptive: false,
    parallelism: 1,
    cursor: args.reset ? null : args.cursor,
    reset: args.reset ?? false,
    oneBatchOnly: args.oneBatchOnly ?? false,
    inline: true,
    ...(args.limits ? { limits: args.limits } : {}),
    // Until it proved itself, a failed first batch refuses the whole start.
    ...(proven ? {} : { onTrial: (message: string) => notAMigration(message) }),
  }, reportToRun);
  return await statusOf(ctx, (await ctx.db.get(migration._id))!);
}

/** The engine's check of a batch size and ceiling, in the peer's words first. */
function checkBatchSize(batchSize: number | undefined, maxBatchSize: number | undefined) {
  try {
    engine.checkBatchSize({
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(maxBatchSize !== undefined ? { maxBatchSize } : {}),
    });
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    throw new EngineError({ ...error.data, message: `Batch size must be greater than 0 and whole: ${error.data.message}` });
  }
}

/**
 * Refuse a cursor copied from another migration's status. A cursor fits only
 * the query that made it; Convex rejects a foreign one at the first batch at
 * best, and where two queries' cursors happen to parse alike it would skip
 * documents silently.
 */
async function assertOwnCursor(ctx: MutationCtx, name: string, cursor: string) {
  const holders = await ctx.db
    .query("workers")
    .filter((q) => q.eq(q.field("state.cursor"), cursor))
    .collect();
  const owners = new Set<string>();
  for (const w of holders) {
    const m = await ctx.db.get(w.migration);
    if (m) owners.add(m.name);
  }
  if (owners.size === 0 || owners.has(name)) return;
  throw new ConvexError({
    kind: "INVALID_CURSOR",
    message:
      `The cursor passed to ${name} is the saved position of ${[...owners].join(", ")}, not of ${name}. ` +
      `Pass ${name}'s own cursor from getStatus, leave cursor out to resume, or pass reset: true to start over.`,
  });
}

async function upsert(
  ctx: MutationCtx,
  args: { name: string; fnHandle: string; next?: { name: string; fnHandle: string }[]; reset?: boolean; cursor?: string | null; workers?: number },
  describedWorkers: number,
): Promise<Doc<"migrations">> {
  const existing = await migrationByName(ctx, args.name);
  if (!existing) {
    const id = await ctx.db.insert("migrations", {
      name: args.name,
      kind: "function",
      fnHandle: args.fnHandle,
      isDone: false,
      latestStart: Date.now(),
      parallelism: args.workers ?? describedWorkers,
      ...(args.next ? { next: args.next, ...(args.reset ? { resetNext: true } : {}) } : {}),
    });
    return (await ctx.db.get(id))!;
  }
  await ctx.db.patch(existing._id, {
    fnHandle: args.fnHandle,
    ...(args.next ? { next: args.next, resetNext: args.reset ? true : undefined } : {}),
  });
  return (await ctx.db.get(existing._id))!;
}

/**
 * Run one batch, report what it would change, and keep nothing: the app's
 * batch throws to roll back its writes, and this function writes nothing.
 * The engine judges how the batch ended; `peer` is given for a function
 * speaking the peer's protocol, with whether it is still on trial and how to
 * refuse it.
 */
async function dryRunOnce(
  ctx: MutationCtx,
  args: { name: string; fnHandle: string; cursor?: string | null; batchSize?: number },
  peer?: { onTrial: boolean; refuse: (thrown: unknown) => Error },
): Promise<MigrationStatus> {
  const existing = await migrationByName(ctx, args.name);
  const base = existing ? await statusOf(ctx, existing) : neverRun(args.name);
  const cursor = args.cursor !== undefined ? args.cursor : (base.cursor ?? null);
  let answer: unknown;
  let thrown: { error: unknown } | undefined;
  try {
    answer = await ctx.runMutation(args.fnHandle as FunctionHandle<"mutation">, {
      cursor,
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
      dryRun: true,
      oneBatchOnly: true,
    });
  } catch (error) {
    thrown = { error };
  }
  const rolledBack =
    thrown?.error instanceof ConvexError && (thrown.error.data as DryRunOutcome)?.kind === DRY_RUN
      ? (thrown.error.data as DryRunOutcome).result
      : undefined;
  const verdict = engine.dryRunVerdict({
    end: rolledBack ? "rolledBack" : thrown ? "threw" : isBatchResult(answer) ? "returnedBatch" : "returnedOther",
    peerProtocol: peer !== undefined,
    onTrial: peer?.onTrial ?? false,
  });
  switch (verdict.type) {
    case "report":
      return {
        ...base,
        batchSize: args.batchSize,
        dryRun: { processed: rolledBack!.processed, updated: rolledBack!.updated ?? 0, samples: rolledBack!.samples ?? [] },
      };
    case "failed": {
      const facts = failureFacts(thrown!.error);
      return {
        ...base,
        state: verdict.state,
        error: facts.message,
        ...(facts.documentId ? { failedDocumentId: facts.documentId } : {}),
        batchSize: args.batchSize,
      };
    }
    case "refuse":
      throw peer!.refuse(thrown?.error);
    case "notRolledBack":
      // A function that returned normally kept its writes: refuse, rolling back all.
      throw new Error(
        `Dry run of ${args.name} did not roll back: it returned normally with dryRun: true. Define it with ` +
          'migrations.define(), or have it throw ConvexError({ kind: "DRY RUN", result }) when dryRun is set.',
      );
  }
}

/** Status rows, in the order asked when `names` is given, else the latest first. */
export const getStatus = query({
  args: { names: v.optional(v.array(v.string())), limit: v.optional(v.number()) },
  returns: v.array(vMigrationStatus),
  handler: async (ctx, args) => {
    if (args.names) {
      return await Promise.all(
        args.names.map(async (name) => {
          const m = await migrationByName(ctx, name);
          return m ? await statusOf(ctx, m) : neverRun(name);
        }),
      );
    }
    const docs = await ctx.db
      .query("migrations")
      .order("desc")
      // Drop-in rows: ours and any the peer left (which have no kind).
      .filter((q) => q.neq(q.field("kind"), "versioned"))
      .take(args.limit ?? 100);
    return await Promise.all(docs.map((m) => statusOf(ctx, m)));
  },
});

/** Stop a migration between batches. Canceling a finished one changes nothing. */
export const cancel = mutation({
  args: { name: v.string() },
  returns: vMigrationStatus,
  handler: async (ctx, args) => {
    const found = await migrationByName(ctx, args.name);
    const migration = found && (await adoptPeerRow(ctx, found));
    if (!migration) {
      throw new ConvexError({
        kind: "UNKNOWN_MIGRATION",
        message: `No migration named ${args.name} has run. Check the name with getStatus.`,
      });
    }
    if (isVersioned(migration)) {
      throw new ConvexError({
        kind: "VERSIONED_MIGRATION",
        message:
          `${args.name} is a step of a versioned run, which keeps its own release record; the drop-in cancel ` +
          "leaves it alone. Cancel the run with `npx convex-migrate cancel` (or your versioned `cancel` function).",
      });
    }
    await cancelJob(ctx, migration, reportToRun);
    return await statusOf(ctx, (await ctx.db.get(migration._id))!);
  },
});

/** Rows of versioned runs belong to the versioned layer: its own cancel, its release records. */
function isVersioned(migration: Doc<"migrations">): boolean {
  return migration.kind === "versioned" || migration.versioned !== undefined;
}

/** Up to `limit` drop-in rows of a query, however many versioned rows come between them. */
async function dropInRows(rows: AsyncIterable<Doc<"migrations">>, limit: number): Promise<Doc<"migrations">[]> {
  const out: Doc<"migrations">[] = [];
  if (limit <= 0) return out;
  for await (const m of rows) {
    if (isVersioned(m)) continue;
    out.push(m);
    if (out.length >= limit) break;
  }
  return out;
}

/** Cancel every drop-in migration that is not done; versioned runs are left to their own cancel. */
export const cancelAll = mutation({
  args: { sinceTs: v.optional(v.number()) },
  returns: v.array(vMigrationStatus),
  handler: async (ctx, args) => {
    const open = await dropInRows(
      ctx.db
        .query("migrations")
        .withIndex("isDone", (q) =>
          args.sinceTs !== undefined ? q.eq("isDone", false).gte("_creationTime", args.sinceTs) : q.eq("isDone", false),
        ),
      100,
    );
    const rows: MigrationStatus[] = [];
    for (const row of open) {
      const m = await adoptPeerRow(ctx, row);
      await cancelJob(ctx, m, reportToRun);
      rows.push(await statusOf(ctx, (await ctx.db.get(m._id))!));
    }
    return rows;
  },
});

/** Forget every migration's state (drop-in records), up to 100 per call. */
export const clearAll = mutation({
  args: { before: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, args) => {
    const old = await dropInRows(
      ctx.db
        .query("migrations")
        .withIndex("by_creation_time", (q) => q.lte("_creationTime", args.before ?? Date.now()))
        .order("desc"),
      100,
    );
    for (const row of old) {
      // A peer row is adopted first, so its pending hop is stopped with it.
      const m = await adoptPeerRow(ctx, row);
      await cancelJob(ctx, m, reportToRun);
      for (const w of await ctx.db
        .query("workers")
        .withIndex("migration", (q) => q.eq("migration", m._id))
        .collect()) {
        await ctx.db.delete(w._id);
      }
      await ctx.db.delete(m._id);
    }
    return null;
  },
});
