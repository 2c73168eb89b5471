import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

/** One table for every scenario; each run seeds a fresh deployment. */
export default defineSchema({
  docs: defineTable({
    /** Padding that sets the document's size (empty for tiny documents). */
    body: v.string(),
    /** Incremented by the migration, so a document migrated twice shows 2. */
    counter: v.optional(v.number()),
  }),
});
