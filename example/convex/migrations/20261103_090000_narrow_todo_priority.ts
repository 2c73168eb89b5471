/** Recipe: narrow a free string to an enum, mapping anything else to a default. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const PRIORITIES = ["low", "medium", "high"] as const;

export const migration = defineMigration<DataModel>({
  id: "20261103_090000_narrow_todo_priority",
  description: "narrow todos.priority to low | medium | high (default medium)",
  up: {
    table: "todos",
    batchSize: 200,
    migrateOne: (_ctx, doc) => {
      const p = doc.priority?.trim().toLowerCase();
      const narrowed = p === "low" || p === "medium" || p === "high" ? p : "medium";
      return narrowed === doc.priority ? undefined : { priority: narrowed };
    },
  },
});
