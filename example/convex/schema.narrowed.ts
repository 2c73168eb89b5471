import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

/**
 * The example app's schema after its migrations ran: the narrow form that
 * `schema.ts` becomes once the data fits it. `todos.done` is backfilled, so
 * required; `todos.priority` holds only the three levels; `users.name` was
 * renamed to `fullName`; `sessions` was moved to `sessionsBackup` and dropped.
 *
 * `convex-migrate check --schema convex/schema.narrowed.ts` tells which
 * documents would still be rejected; `convex-migrate plan --schema ...`
 * lists the changes from the deployed schema and the migrations that cover
 * them. To adopt it, copy it over `schema.ts` once `check` reports none.
 */
export default defineSchema({
  myTable: defineTable({
    requiredField: v.string(),
    optionalField: v.optional(v.string()),
    unionField: v.optional(v.union(v.string(), v.number())),
  }).index("by_requiredField", ["requiredField"]),

  todos: defineTable({
    text: v.string(),
    done: v.boolean(),
    priority: v.union(v.literal("low"), v.literal("medium"), v.literal("high")),
    stale: v.optional(v.boolean()),
    counter: v.optional(v.number()),
  }).index("by_done", ["done"]),

  users: defineTable({
    fullName: v.string(),
    email: v.optional(v.string()),
  }),

  notes: defineTable({ body: v.string() }),
  notesV2: defineTable({ body: v.string(), copiedFrom: v.id("notes") }).index("by_copiedFrom", ["copiedFrom"]),

  sessionsBackup: defineTable({ token: v.string(), expiresAt: v.number(), originalId: v.string() }).index(
    "by_originalId",
    ["originalId"],
  ),

  writeCounts: defineTable({ table: v.string(), count: v.number() }).index("by_table", ["table"]),
});
