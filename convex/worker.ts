/** The scheduled hops of a migration's workers. Internal: only the component schedules them. */
import { v } from "convex/values";
import { internalMutation } from "./_generated/server.js";
import {
  assertHandle,
  continueSeries,
  defaultsFrom,
  describe,
  migrationByName,
  refuseStart,
  startWorkers,
  tick as runTick,
} from "./jobs.js";
import { vLimits } from "./validators.js";

/** One hop of one worker: runs a batch if the engine says this hop is current. */
export const tick = internalMutation({
  args: { worker: v.id("workers"), generation: v.number(), limits: v.optional(vLimits) },
  returns: v.null(),
  handler: async (ctx, args) => {
    await runTick(ctx, args.worker, args.generation, args.limits);
    return null;
  },
});

/** Starts the next migration of a drop-in series once the previous one succeeded. */
export const startNext = internalMutation({
  args: {
    name: v.string(),
    fnHandle: v.string(),
    next: v.array(v.object({ name: v.string(), fnHandle: v.string() })),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    assertHandle(args.fnHandle);
    const existing = await migrationByName(ctx, args.name);
    const id =
      existing?._id ??
      (await ctx.db.insert("migrations", {
        name: args.name,
        kind: "function",
        fnHandle: args.fnHandle,
        isDone: false,
        latestStart: Date.now(),
        parallelism: 1,
      }));
    await ctx.db.patch(id, { fnHandle: args.fnHandle, next: args.next });
    const migration = (await ctx.db.get(id))!;
    if (migration.isDone) {
      // Already completed: skip it and keep the series going.
      await continueSeries(ctx, migration);
      return null;
    }
    let described;
    try {
      described = await describe(ctx, args.fnHandle);
    } catch (error) {
      // Every entry was checked when the series started, so this one changed
      // since (a redeploy): record why on its status instead of stopping silently.
      const why = error instanceof Error ? error.message : String(error);
      await refuseStart(ctx, migration, `${args.name} is not a migration: ${why}`);
      return null;
    }
    await startWorkers(ctx, migration, defaultsFrom(described));
    return null;
  },
});
