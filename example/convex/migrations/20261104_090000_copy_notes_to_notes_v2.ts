/** Recipe: copy a table under a new name (idempotent: a copied note is skipped). */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "20261104_090000_copy_notes_to_notes_v2",
  description: "copy notes into notesV2",
  up: {
    table: "notes",
    migrateOne: async (ctx, doc) => {
      const copied = await ctx.db
        .query("notesV2")
        .withIndex("by_copiedFrom", (q) => q.eq("copiedFrom", doc._id))
        .first();
      if (!copied) await ctx.db.insert("notesV2", { body: doc.body, copiedFrom: doc._id });
    },
  },
  down: {
    table: "notesV2",
    migrateOne: async (ctx, doc) => {
      await ctx.db.delete(doc._id);
    },
  },
});
