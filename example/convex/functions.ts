/**
 * The app's function builders. `internalMutation` runs triggers, so every
 * migration write through it is counted in `writeCounts`.
 */
import { customCtx, customMutation } from "convex-helpers/server/customFunctions";
import { Triggers } from "convex-helpers/server/triggers";
import type { DataModel } from "./_generated/dataModel";
import { internalMutation as rawInternalMutation } from "./_generated/server";

const triggers = new Triggers<DataModel>();

for (const table of ["todos", "users", "myTable"] as const) {
  triggers.register(table, async (ctx) => {
    const row = await ctx.db
      .query("writeCounts")
      .withIndex("by_table", (q) => q.eq("table", table))
      .unique();
    if (row) await ctx.db.patch(row._id, { count: row.count + 1 });
    else await ctx.db.insert("writeCounts", { table, count: 1 });
  });
}

/** An internal mutation whose writes run the triggers above. */
export const internalMutation = customMutation(rawInternalMutation, customCtx(triggers.wrapDB));
