/**
 * Lookups of the component's rows, shared by the executors of migrations
 * (jobs.ts), of versioned runs (runs.ts) and the queries. Reads only.
 */
import type { JobWorker } from "../js-shim/src/engine-types/JobWorker.js";
import type { HopState } from "../js-shim/src/engine-types/HopState.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { QueryCtx } from "./_generated/server.js";

export async function migrationByName(ctx: QueryCtx, name: string) {
  return await ctx.db
    .query("migrations")
    .withIndex("name", (q) => q.eq("name", name))
    .unique();
}

/** A migration's worker rows, in index order. */
export async function workersOf(ctx: QueryCtx, migration: Id<"migrations">) {
  return await ctx.db
    .query("workers")
    .withIndex("migration", (q) => q.eq("migration", migration))
    .collect();
}

/**
 * Whether the migration's function picks its own batch size when none is
 * sent: a hand-written peer-protocol mutation started without a size. The
 * engine decides what to send it (`ownSize` in its requests).
 */
export const picksOwnSize = (migration: Doc<"migrations">) =>
  migration.protocol === "peer" && migration.fixedBatchSize === undefined;

/** The name of the job row of one versioned migration in one direction. */
export const jobName = (migrationId: string, direction: "up" | "down") => `${migrationId}:${direction}`;

export async function activeRun(ctx: QueryCtx) {
  return await ctx.db
    .query("runs")
    .withIndex("active", (q) => q.eq("active", true))
    .first();
}

export async function versionRecord(ctx: QueryCtx, migrationId: string) {
  return await ctx.db
    .query("versions")
    .withIndex("migrationId", (q) => q.eq("migrationId", migrationId))
    .unique();
}

/**
 * Worker rows as the engine reads them, each with what its last scheduled
 * hop's `_scheduled_functions` record says (one system read per worker).
 */
export async function withHops(ctx: QueryCtx, rows: Doc<"workers">[]): Promise<JobWorker[]> {
  return await Promise.all(
    rows.map(async (row) => {
      const job = row.scheduledId ? await ctx.db.system.get(row.scheduledId) : null;
      // A runtime may keep no error text (convex-test does not): the engine decides what that means.
      const error = job ? (job.state as { error?: unknown }).error : undefined;
      return {
        index: row.index,
        state: row.state,
        ...(job ? { hop: job.state.kind as HopState } : {}),
        ...(typeof error === "string" ? { hopError: error } : {}),
      };
    }),
  );
}

/** Worker rows as the engine reads them when no hop's record matters. */
export function withoutHops(rows: Doc<"workers">[]): JobWorker[] {
  return rows.map((row) => ({ index: row.index, state: row.state }));
}
