/** The scheduled hops of a migration's workers. Internal: only the component schedules them. */
import { v } from "convex/values";
import { internalMutation } from "./_generated/server.js";
import { tick as runTick } from "./jobs.js";
import { startMigration } from "./lib.js";
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
    reset: v.optional(v.boolean()),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    // The same start as lib:migrate: completed ones are skipped (and the
    // series goes on) unless the series was started with reset.
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
