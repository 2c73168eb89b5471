/**
 * A migration over a table that lives inside a component, the reason the
 * peer's `schema` option exists: the component defines its own migrations
 * with its own schema and mounts the migrations component itself. Pages are
 * read with convex-helpers' paginator, which works inside components.
 */
import { convexTest } from "convex-test";
import component from "convex-migrate/test";
import { Migrations } from "convex-migrate";
import {
  componentsGeneric,
  defineSchema,
  defineTable,
  internalMutationGeneric,
  internalQueryGeneric,
  type FunctionReference,
} from "convex/server";
import { v } from "convex/values";
import { expect, test, vi } from "vitest";
import { components } from "../example/convex/_generated/api";
import schema from "../example/convex/schema";
import { modules } from "./harness";

const localSchema = defineSchema({
  componentData: defineTable({ name: v.string(), value: v.optional(v.string()) }),
});

/** The component's own migrations, over its own table, with its own mount of convex-migrate. */
const localMigrations = new Migrations(
  (componentsGeneric() as unknown as { migrations: ConstructorParameters<typeof Migrations>[0] }).migrations,
  { schema: localSchema },
);

const localExample = {
  seed: internalMutationGeneric({
    args: { n: v.number() },
    handler: async (ctx, { n }) => {
      for (let i = 0; i < n; i++) {
        await ctx.db.insert("componentData", { name: `item ${i}`, ...(i % 2 ? { value: `v${i}` } : {}) });
      }
      return null;
    },
  }),
  addDefaultValue: localMigrations.define({
    table: "componentData",
    batchSize: 3,
    migrateOne: (_ctx, doc) => (doc.value === undefined ? { value: "default" } : undefined),
  }),
  all: internalQueryGeneric({ args: {}, handler: async (ctx) => await ctx.db.query("componentData").collect() }),
};

type Ref = FunctionReference<"mutation" | "query", "internal">;
const local = (components as unknown as { localComponent: { example: Record<keyof typeof localExample, Ref> } })
  .localComponent.example;

test("a table inside a component migrates through the component's own Migrations", async () => {
  vi.useFakeTimers();
  try {
    const t = convexTest({ schema, modules });
    t.registerComponent("localComponent", localSchema, {
      // convex-test finds a component's functions by the prefix of its _generated folder.
      "./localComponent/_generated/server.ts": async () => ({}),
      "./localComponent/example.ts": async () => localExample,
    });
    t.registerComponent("localComponent/migrations", component.schema, component.modules);
    await t.run(async (ctx) => {
      await ctx.runMutation(local.seed as FunctionReference<"mutation", "internal">, { n: 8 });
    });
    const first = await t.run(async (ctx) =>
      ctx.runMutation(local.addDefaultValue as FunctionReference<"mutation", "internal">, {}),
    );
    expect(first).toMatchObject({ state: "inProgress", processed: 3 });
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const docs = await t.run(async (ctx) => ctx.runQuery(local.all as FunctionReference<"query", "internal">, {}));
    expect(docs.map((d: { value?: string }) => d.value)).toEqual([
      "default", "v1", "default", "v3", "default", "v5", "default", "v7",
    ]);
  } finally {
    vi.useRealTimers();
  }
});
