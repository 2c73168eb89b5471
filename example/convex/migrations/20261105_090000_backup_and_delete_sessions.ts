/** Recipe: delete a table's documents after exporting each to a backup table. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "20261105_090000_backup_and_delete_sessions",
  description: "move sessions into sessionsBackup, then delete them",
  up: {
    table: "sessions",
    migrateOne: async (ctx, doc) => {
      await ctx.db.insert("sessionsBackup", { token: doc.token, expiresAt: doc.expiresAt, originalId: doc._id });
      await ctx.db.delete(doc._id);
    },
  },
  down: {
    table: "sessionsBackup",
    migrateOne: async (ctx, doc) => {
      await ctx.db.insert("sessions", { token: doc.token, expiresAt: doc.expiresAt });
      await ctx.db.delete(doc._id);
    },
  },
});
