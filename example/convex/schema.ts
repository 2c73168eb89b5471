import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

/**
 * The example app's schema in its widened form: every field a migration
 * backfills or narrows is still optional or loose here, as it must be while
 * the data migrates. `schema.narrowed.ts` is the form after the migrations.
 */
export default defineSchema({
  // The peer's README example table.
  myTable: defineTable({
    requiredField: v.string(),
    optionalField: v.optional(v.string()),
    unionField: v.optional(v.union(v.string(), v.number())),
  }).index("by_requiredField", ["requiredField"]),

  todos: defineTable({
    text: v.string(),
    done: v.optional(v.boolean()),
    priority: v.optional(v.string()),
    stale: v.optional(v.boolean()),
    /** Incremented by test migrations to prove each document is migrated exactly once. */
    counter: v.optional(v.number()),
  }).index("by_done", ["done"]),

  users: defineTable({
    name: v.optional(v.string()),
    fullName: v.optional(v.string()),
    email: v.optional(v.string()),
  }),

  notes: defineTable({ body: v.string() }),
  notesV2: defineTable({ body: v.string(), copiedFrom: v.id("notes") }).index("by_copiedFrom", ["copiedFrom"]),

  sessions: defineTable({ token: v.string(), expiresAt: v.number() }),
  sessionsBackup: defineTable({ token: v.string(), expiresAt: v.number(), originalId: v.string() }).index(
    "by_originalId",
    ["originalId"],
  ),

  /** Written by a trigger: how many writes each table saw through `internalMutation`. */
  writeCounts: defineTable({ table: v.string(), count: v.number() }).index("by_table", ["table"]),
});
