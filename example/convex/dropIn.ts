/**
 * The @convex-dev/migrations README usage, unchanged but for the import
 * specifier: proof that an app switches by editing two imports.
 */
import { Migrations } from "convex-migrate";
import { components, internal } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import schema from "./schema.js";
import { internalMutation } from "./functions.js";

export const migrations = new Migrations<DataModel>(components.migrations, {
  internalMutation,
  migrationsLocationPrefix: "dropIn:",
  schema,
});

export const run = migrations.runner();

export const setDefaultValue = migrations.define({
  table: "myTable",
  migrateOne: async (ctx, doc) => {
    if (doc.optionalField === undefined) {
      await ctx.db.patch(doc._id, { optionalField: "default" });
    }
  },
});

// Shorthand: return the patch.
export const clearField = migrations.define({
  table: "myTable",
  migrateOne: () => ({ optionalField: undefined }),
});

export const validateRequiredField = migrations.define({
  table: "myTable",
  // Only run on documents with an empty requiredField.
  customRange: (query) => query.withIndex("by_requiredField", (q) => q.eq("requiredField", "")),
  migrateOne: async (_ctx, doc) => {
    console.log("Needs fixup: " + doc._id);
  },
});

export const convertUnionField = migrations.define({
  table: "myTable",
  batchSize: 10,
  migrateOne: async (ctx, doc) => {
    if (typeof doc.unionField === "number") {
      await ctx.db.patch(doc._id, { unionField: doc.unionField.toString() });
    }
  },
});

export const runIt = migrations.runner(internal.dropIn.setDefaultValue);
export const runAll = migrations.runner([internal.dropIn.setDefaultValue, internal.dropIn.clearField]);
