/** Recipe: a conditional backfill over an index range (open todos only; low priority ones are flagged). */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "20261106_090000_flag_stale_open_todos",
  description: "flag open low-priority todos as stale",
  up: {
    table: "todos",
    customRange: (q) => q.withIndex("by_done", (r) => r.eq("done", false)),
    migrateOne: (_ctx, doc) => (doc.priority === "low" ? { stale: true } : undefined),
  },
  down: {
    table: "todos",
    customRange: (q) => q.withIndex("by_done", (r) => r.eq("done", false)),
    migrateOne: (_ctx, doc) => (doc.stale === undefined ? undefined : { stale: undefined }),
  },
});
