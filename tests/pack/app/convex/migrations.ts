/**
 * The @convex-dev/migrations README usage with the import specifier changed:
 * what a user of the published package writes.
 */
import { Migrations, runToCompletion } from "convex-migrate";
import { components, internal } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import { internalAction } from "./_generated/server.js";
import schema from "./schema.js";

export const migrations = new Migrations<DataModel>(components.migrations, { schema });

export const run = migrations.runner();

export const setDefaultValue = migrations.define({
  table: "myTable",
  migrateOne: async (ctx, doc) => {
    if (doc.optionalField === undefined) {
      await ctx.db.patch(doc._id, { optionalField: "default" });
    }
  },
});

export const clearField = migrations.define({
  table: "myTable",
  migrateOne: () => ({ optionalField: undefined }),
});

export const runSync = internalAction({
  args: {},
  handler: async (ctx) => {
    await runToCompletion(ctx, components.migrations, internal.migrations.setDefaultValue);
  },
});
