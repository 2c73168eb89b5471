/** The scheduled hops of a migration's workers. Internal: only the component schedules them. */
import type { FunctionHandle } from "convex/server";
import { ConvexError, v } from "convex/values";
import { internalMutation } from "./_generated/server.js";
import { internal } from "./_generated/api.js";
import { DRY_RUN, PEER_PROBE, failureFacts, isBatchResult } from "./batchContract.js";
import { hop, legacyHop, refuseStart } from "./jobs.js";
import { startMigration } from "./lib.js";
import { reportToRun } from "./runs.js";
import { migrationByName } from "./store.js";
import { vLimits } from "./validators.js";

const vSeriesEntry = {
  name: v.string(),
  fnHandle: v.string(),
  next: v.array(v.object({ name: v.string(), fnHandle: v.string() })),
  reset: v.optional(v.boolean()),
};

const vBatchPlan = v.object({
  ownSize: v.optional(v.boolean()),
  cursor: v.optional(v.string()),
  batchSize: v.number(),
  generation: v.number(),
  limits: vLimits,
  checkCursor: v.boolean(),
});

/**
 * One hop of one worker: runs the batch the engine planned for it, when its
 * worker still waits for this hop. Hops scheduled by an earlier version
 * carry `worker` and `generation` instead; the engine judges those.
 */
export const tick = internalMutation({
  args: {
    migration: v.optional(v.id("migrations")),
    index: v.optional(v.number()),
    hop: v.optional(v.number()),
    batch: v.optional(vBatchPlan),
    previous: v.optional(v.id("_scheduled_functions")),
    scheduledAt: v.optional(v.number()),
    worker: v.optional(v.id("workers")),
    generation: v.optional(v.number()),
    limits: v.optional(vLimits),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    const { migration, index, hop: awaited, batch, previous, scheduledAt, worker, generation, limits } = args;
    const extra = limits ? { limits } : {};
    if (migration !== undefined && index !== undefined && awaited !== undefined && batch !== undefined) {
      await hop(ctx, { migration, index, hop: awaited, batch, ...(previous ? { previous } : {}), ...(scheduledAt !== undefined ? { scheduledAt } : {}), ...extra }, reportToRun);
    } else if (worker !== undefined && generation !== undefined) {
      await legacyHop(ctx, { worker, generation, ...extra }, reportToRun);
    }
    return null;
  },
});

/**
 * One series entry's start, the same as lib:migrate: completed ones are
 * skipped (and the series goes on) unless the series was started with reset.
 */
export const startSeriesEntry = internalMutation({
  args: vSeriesEntry,
  returns: v.null(),
  handler: async (ctx, args) => {
    await startMigration(ctx, {
      name: args.name,
      fnHandle: args.fnHandle,
      next: args.next,
      dryRun: false,
      ...(args.reset ? { reset: true, cursor: null } : {}),
    });
    return null;
  },
});

/** Starts the next migration of a drop-in series once the previous one succeeded. */
export const startNext = internalMutation({
  args: vSeriesEntry,
  returns: v.null(),
  handler: async (ctx, args) => {
    try {
      // In its own transaction, so a start that is refused keeps nothing.
      await ctx.runMutation(internal.worker.startSeriesEntry, args);
    } catch (error) {
      // Every entry was checked when the series started, so this one changed
      // since (a redeploy): record why on its status instead of stopping silently.
      const why = failureFacts(error).message;
      const message = why.startsWith(args.name) ? why : `${args.name} is not a migration: ${why}`;
      const migration =
        (await migrationByName(ctx, args.name)) ??
        (await ctx.db.get(
          await ctx.db.insert("migrations", {
            name: args.name,
            kind: "function",
            fnHandle: args.fnHandle,
            isDone: false,
            latestStart: Date.now(),
            parallelism: 1,
          }),
        ))!;
      await refuseStart(ctx, migration, message, reportToRun);
    }
    return null;
  },
});

/**
 * One dry batch of a function that does not describe itself, to see whether
 * it speaks the peer's batch protocol. Always throws `{ kind: PEER_PROBE,
 * proven }`, so whatever the function wrote is rolled back.
 */
export const probePeerProtocol = internalMutation({
  args: { fnHandle: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => {
    let proven: boolean;
    try {
      const answer: unknown = await ctx.runMutation(args.fnHandle as FunctionHandle<"mutation">, {
        cursor: null,
        dryRun: true,
        oneBatchOnly: true,
      });
      proven = isBatchResult(answer);
    } catch (error) {
      proven = error instanceof ConvexError && (error.data as { kind?: unknown })?.kind === DRY_RUN;
    }
    throw new ConvexError({ kind: PEER_PROBE, proven });
  },
});
