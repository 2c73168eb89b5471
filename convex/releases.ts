/**
 * Release records written after a run: `deploy --bridge` pushes the new
 * code before the run and checks and pushes again after it, and records
 * both pushes and the check on the run's release record, so one record
 * tells the whole deploy.
 */
import { ConvexError, v } from "convex/values";
import { mutation } from "./_generated/server.js";
import { vDeployRecord } from "./validators.js";

/** Attach what `deploy --bridge` did to the release record of run `runId`. */
export const recordDeploy = mutation({
  args: { runId: v.string(), deploy: vDeployRecord },
  returns: v.null(),
  handler: async (ctx, { runId, deploy }) => {
    const id = ctx.db.normalizeId("runs", runId);
    const run = id ? await ctx.db.get(id) : null;
    if (!run) {
      throw new ConvexError({
        kind: "UNKNOWN_RUN",
        message: `No run has id ${runId}, so its release record cannot be completed.`,
      });
    }
    await ctx.db.patch(run._id, { release: { ...run.release, deploy } });
    return null;
  },
});
