/**
 * Rows @convex-dev/migrations left in the component's `migrations` table
 * (the table keeps its name across the switch, and so do its rows). Queries
 * read such a row as the engine interprets it; the first mutation that
 * touches it by name adopts it: the row becomes one of ours and gets the
 * worker the engine derived from it.
 */
import * as engine from "../js-shim/src/engine.js";
import type { PeerAdoption } from "../js-shim/src/engine-types/PeerAdoption.js";
import type { HopState } from "../js-shim/src/engine-types/HopState.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { MutationCtx, QueryCtx } from "./_generated/server.js";

/** A row written by the peer and not adopted yet: ours always carry `kind`. */
export function isPeerRow(migration: Doc<"migrations">): boolean {
  return migration.kind === undefined;
}

/** What the engine makes of a peer row, with the state of the job its `workerId` names. */
async function interpret(ctx: QueryCtx, migration: Doc<"migrations">): Promise<PeerAdoption> {
  const job = migration.workerId ? await ctx.db.system.get(migration.workerId) : null;
  return engine.adoptPeer({
    name: migration.name,
    isDone: migration.isDone,
    ...(typeof migration.cursor === "string" ? { cursor: migration.cursor } : {}),
    processed: migration.processed ?? 0,
    ...(migration.error !== undefined ? { error: migration.error } : {}),
    latestStart: migration.latestStart,
    ...(migration.latestEnd !== undefined ? { latestEnd: migration.latestEnd } : {}),
    ...(job ? { job: job.state.kind as HopState } : {}),
  });
}

/**
 * The worker rows a status is built from. A peer row has none stored, so it
 * gets the one the engine derives, pointing at the peer's job (so a live job
 * reads as a live hop).
 */
export async function peerWorkers(ctx: QueryCtx, migration: Doc<"migrations">): Promise<Doc<"workers">[]> {
  const { state } = await interpret(ctx, migration);
  return [
    {
      // Never stored: the id is the migration's own, for the reader's sake only.
      _id: migration._id as unknown as Id<"workers">,
      _creationTime: migration._creationTime,
      migration: migration._id,
      index: 0,
      state,
      ...(migration.workerId ? { scheduledId: migration.workerId } : {}),
    },
  ];
}

/**
 * Make a peer row ours: store its worker, drop the peer's fields, and stop
 * the peer's pending hop. A hop that is running right now cannot be
 * stopped; it is remembered as `peerJob` and does nothing when it calls in.
 */
export async function adoptPeerRow(ctx: MutationCtx, migration: Doc<"migrations">): Promise<Doc<"migrations">> {
  if (!isPeerRow(migration)) return migration;
  const adoption = await interpret(ctx, migration);
  if (adoption.stopJob && migration.workerId) {
    const job = await ctx.db.system.get(migration.workerId);
    if (job?.state.kind === "pending") await ctx.scheduler.cancel(migration.workerId);
  }
  await ctx.db.patch(migration._id, {
    kind: "function",
    parallelism: 1,
    ...(adoption.stopJob && migration.workerId ? { peerJob: migration.workerId } : {}),
    cursor: undefined,
    workerId: undefined,
    error: undefined,
    processed: undefined,
  });
  await ctx.db.insert("workers", { migration: migration._id, index: 0, state: adoption.state });
  return (await ctx.db.get(migration._id))!;
}

/**
 * Whether this call is the peer's old `lib:migrate` hop arriving after its
 * row was adopted: it is the job the row remembers, and it is running now.
 * Such a call carries a stale cursor and must change nothing.
 */
export async function isPeerHop(ctx: QueryCtx, migration: Doc<"migrations">): Promise<boolean> {
  if (!migration.peerJob) return false;
  const job = await ctx.db.system.get(migration.peerJob);
  return job?.state.kind === "inProgress";
}
