/**
 * Run by scripts/pack-test.sh in a throwaway app that installed the packed
 * tarball. Named .spec.ts so the repository's own vitest run leaves it out.
 */
import { convexTest } from "convex-test";
import { runToCompletion } from "convex-migrate";
import { register } from "convex-migrate/test";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { components, internal } from "./_generated/api.js";
import { migrations } from "./migrations.js";
import schema from "./schema.js";

const modules = import.meta.glob(["./**/*.ts", "!./**/*.spec.ts"]);
const DOCS = 30;

function deployment() {
  const t = convexTest(schema, modules);
  register(t);
  return t;
}

async function seed(t: ReturnType<typeof deployment>) {
  await t.run(async (ctx) => {
    for (let i = 0; i < DOCS; i++) await ctx.db.insert("myTable", { requiredField: `doc ${i}` });
  });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

test("the runner migrates every document in scheduled batches", async () => {
  const t = deployment();
  await seed(t);
  await t.mutation(internal.migrations.run, { fn: "migrations:setDefaultValue", batchSize: 7 });
  await t.finishAllScheduledFunctions(vi.runAllTimers);

  const docs = await t.run((ctx) => ctx.db.query("myTable").collect());
  expect(docs.map((d) => d.optionalField)).toEqual(Array(DOCS).fill("default"));

  const [status] = await t.run((ctx) => migrations.getStatus(ctx, { migrations: [internal.migrations.setDefaultValue] }));
  expect(status).toMatchObject({ name: "migrations:setDefaultValue", state: "success", isDone: true, processed: DOCS });
});

test("runToCompletion migrates inline inside t.run", async () => {
  const t = deployment();
  await seed(t);
  await t.run(async (ctx) => {
    const status = await runToCompletion(ctx, components.migrations, internal.migrations.setDefaultValue);
    expect(status).toMatchObject({ state: "success", isDone: true, processed: DOCS });
    const docs = await ctx.db.query("myTable").collect();
    expect(docs.every((d) => d.optionalField === "default")).toBe(true);
  });
});

test("runToCompletion works from an action too", async () => {
  const t = deployment();
  await seed(t);
  await t.action(internal.migrations.runSync, {});
  const docs = await t.run((ctx) => ctx.db.query("myTable").collect());
  expect(docs.every((d) => d.optionalField === "default")).toBe(true);
});
