/** Recipe: rename a field: copy it to the new name, then clear the old one. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "20261102_090000_rename_user_name",
  description: "rename users.name to users.fullName",
  up: {
    table: "users",
    migrateOne: (_ctx, doc) => {
      if (doc.name === undefined) return undefined;
      if (doc.fullName !== undefined && doc.fullName !== doc.name) {
        // Never overwrite a different value: stop and let a person decide.
        throw new Error(`user has both name "${doc.name}" and fullName "${doc.fullName}"`);
      }
      return { fullName: doc.name, name: undefined };
    },
  },
  down: {
    table: "users",
    migrateOne: (_ctx, doc) =>
      doc.fullName === undefined ? undefined : { name: doc.name ?? doc.fullName, fullName: undefined },
  },
});
