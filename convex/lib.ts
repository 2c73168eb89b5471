/**
 * The drop-in API: the same functions, arguments and status rows as
 * @convex-dev/migrations' component, driven by the engine's state machine.
 * Components' functions are reachable only from the app that mounts them.
 */
import type { FunctionHandle } from "convex/server";
import { ConvexError, v } from "convex/values";
import * as engine from "../js-shim/src/engine.js";
import type { Doc } from "./_generated/dataModel.js";
import { mutation, query, type MutationCtx } from "./_generated/server.js";
import { CUSTOM_RANGE_TABLE, DRY_RUN, UNKNOWN_TABLE, failureFacts, type DryRunOutcome } from "./batchContract.js";
import {
  assertHandle,
  cancelWorkers,
  continueSeries,
  defaultsFrom,
  describe,
  migrationByName,
  startWorkers,
} from "./jobs.js";
import { neverRun, statusOf } from "./status.js";
import { vLimits, vMigrationStatus, type MigrationStatus } from "./validators.js";

const vNext = v.array(v.object({ name: v.string(), fnHandle: v.string() }));

/**
 * Start, resume or reset a migration (and the series after it). Returns its
 * status. Starting a migration that is already running changes nothing.
 */
export const migrate = mutation({
  args: {
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
  },
  returns: vMigrationStatus,
  handler: async (ctx, args) => {
    assertHandle(args.fnHandle);
    const described = await describeMigration(ctx, args.name, args.fnHandle);
    // Every later migration of the series is checked now, so a wrong entry
    // refuses the whole start instead of silently ending the series later.
    for (const next of args.next ?? []) {
      assertHandle(next.fnHandle);
      await describeMigration(ctx, next.name, next.fnHandle, ` (listed in next of ${args.name})`);
    }
    if (typeof args.cursor === "string") await assertOwnCursor(ctx, args.name, args.cursor);
    const batchSize = args.batchSize ?? described.batchSize;
    // Every path checks the size, a dry run and a skipped completed migration too.
    engine.checkBatchSizes({
      batchSize,
      ...(args.maxBatchSize !== undefined ? { maxBatchSize: args.maxBatchSize } : {}),
    });
    if (args.dryRun) return await dryRunOnce(ctx, { ...args, batchSize });
    const migration = await upsert(ctx, args, described.workers);
    if (migration.isDone && !args.reset && args.cursor == null) {
      // Completed migrations are skipped; a series moves on to the next one.
      await continueSeries(ctx, migration);
      return await statusOf(ctx, migration);
    }
    await startWorkers(ctx, migration, {
      ...defaultsFrom(described),
      batchSize,
      ...(args.maxBatchSize !== undefined ? { maxBatchSize: args.maxBatchSize } : {}),
      ...(args.adaptive !== undefined ? { adaptive: args.adaptive } : {}),
      ...(args.workers !== undefined ? { parallelism: args.workers } : {}),
      cursor: args.reset ? null : args.cursor,
      reset: args.reset ?? false,
      oneBatchOnly: args.oneBatchOnly ?? false,
      ...(args.limits ? { limits: args.limits } : {}),
    });
    return await statusOf(ctx, (await ctx.db.get(migration._id))!);
  },
});

/** A migration's description, or an error saying that the function is not one. */
async function describeMigration(ctx: MutationCtx, name: string, fnHandle: string, where = "") {
  return await describe(ctx, fnHandle).catch((error: unknown) => {
    // A migration that refused its own description says why itself.
    const kind = error instanceof ConvexError ? (error.data as { kind?: unknown })?.kind : undefined;
    if (kind === UNKNOWN_TABLE || kind === CUSTOM_RANGE_TABLE) throw error;
    throw new ConvexError({
      kind: "NOT_A_MIGRATION",
      message:
        `${name}${where} is not a migration: ${error instanceof Error ? error.message : String(error)}. ` +
        `Name a function exported from migrations.define(), e.g. "migrations:setDefault".`,
    });
  });
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
  const restart = args.reset || typeof args.cursor === "string";
  if (!existing) {
    const id = await ctx.db.insert("migrations", {
      name: args.name,
      kind: "function",
      fnHandle: args.fnHandle,
      isDone: false,
      latestStart: Date.now(),
      parallelism: args.workers ?? describedWorkers,
      ...(args.next ? { next: args.next } : {}),
    });
    return (await ctx.db.get(id))!;
  }
  await ctx.db.patch(existing._id, {
    fnHandle: args.fnHandle,
    ...(args.next ? { next: args.next } : {}),
    ...(restart ? { isDone: false, latestStart: Date.now(), latestEnd: undefined } : {}),
  });
  return (await ctx.db.get(existing._id))!;
}

/**
 * Run one batch, report what it would change, and keep nothing: the app's
 * batch throws to roll back its writes, and this function writes nothing.
 */
async function dryRunOnce(
  ctx: MutationCtx,
  args: { name: string; fnHandle: string; cursor?: string | null; batchSize: number },
): Promise<MigrationStatus> {
  const existing = await migrationByName(ctx, args.name);
  const base = existing ? await statusOf(ctx, existing) : neverRun(args.name);
  const cursor = args.cursor !== undefined ? args.cursor : (base.cursor ?? null);
  try {
    await ctx.runMutation(args.fnHandle as FunctionHandle<"mutation">, {
      cursor,
      batchSize: args.batchSize,
      dryRun: true,
      oneBatchOnly: true,
    });
  } catch (error) {
    if (error instanceof ConvexError && (error.data as DryRunOutcome)?.kind === DRY_RUN) {
      const { result } = error.data as DryRunOutcome;
      return {
        ...base,
        batchSize: args.batchSize,
        dryRun: { processed: result.processed, updated: result.updated ?? 0, samples: result.samples ?? [] },
      };
    }
    const facts = failureFacts(error);
    return {
      ...base,
      state: "failed",
      error: facts.message,
      ...(facts.documentId ? { failedDocumentId: facts.documentId } : {}),
      batchSize: args.batchSize,
    };
  }
  // A function that returned normally kept its writes: refuse, rolling back all.
  throw new Error(
    `Dry run of ${args.name} did not roll back. Define it with migrations.define() so dryRun is honoured.`,
  );
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
      .filter((q) => q.eq(q.field("kind"), "function"))
      .take(args.limit ?? 100);
    return await Promise.all(docs.map((m) => statusOf(ctx, m)));
  },
});

/** Stop a migration between batches. Canceling a finished one changes nothing. */
export const cancel = mutation({
  args: { name: v.string() },
  returns: vMigrationStatus,
  handler: async (ctx, args) => {
    const migration = await migrationByName(ctx, args.name);
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
    await cancelWorkers(ctx, migration);
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
    for (const m of open) {
      await cancelWorkers(ctx, m);
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
    for (const m of old) {
      await cancelWorkers(ctx, m);
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
