import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  myTable: defineTable({
    requiredField: v.string(),
    optionalField: v.optional(v.string()),
  }),
});
