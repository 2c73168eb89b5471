/** Recipe: make an optional field required by backfilling it. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "20261101_090000_backfill_todo_done",
  description: "backfill todos.done so it can become required",
  up: {
    table: "todos",
    migrateOne: (_ctx, doc) => (doc.done === undefined ? { done: false } : undefined),
  },
});
