/**
 * A worker row written before the optional `position` and `lastHopDied`
 * fields existed, left mid-run by the release that wrote it: after an
 * upgrade the component's table still accepts it (Convex validates stored
 * rows on push), and starting the migration again resumes from its stored
 * cursor and completes, each document migrated once.
 */
import { convexTest } from "convex-test";
import component from "convex-migrate/test";
import { paginator } from "convex-helpers/server/pagination";
import { createFunctionHandle, makeFunctionReference, mutationGeneric, type FunctionReference } from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import schema from "../example/convex/schema";
import { drain, modules, seedTodos, todos } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const NAME = "counting:countTodos";
const TODOS = 120;
const DONE_BEFORE = 30;

/** Test-only functions in the component's folder: write rows as an older release stored them. */
const oldState = {
  insert: mutationGeneric({
    args: { migration: v.any(), worker: v.any() },
    handler: async (ctx, { migration, worker }) => {
      const id = await ctx.db.insert("migrations", migration as never);
      await ctx.db.insert("workers", { ...(worker as object), migration: id } as never);
      return null;
    },
  }),
  /**
   * Replace each pending hop with the same hop as the previous release
   * scheduled it: the same arguments without `scheduledAt`.
   */
  rescheduleAsBefore: mutationGeneric({
    args: {},
    handler: async (ctx) => {
      const tick = makeFunctionReference<"mutation">("worker:tick");
      let replaced = 0;
      for (const job of await ctx.db.system.query("_scheduled_functions").collect()) {
        if (job.state.kind !== "pending" || !job.name.includes("worker")) continue;
        const { scheduledAt, ...before } = job.args[0] as Record<string, unknown>;
        if (scheduledAt === undefined) throw new Error("a hop of this release carries scheduledAt");
        await ctx.scheduler.cancel(job._id);
        const id = await ctx.scheduler.runAfter(0, tick, before);
        const worker = await ctx.db
          .query("workers")
          .filter((q) => q.eq(q.field("scheduledId"), job._id))
          .unique();
        await ctx.db.patch(worker!._id, { scheduledId: id });
        replaced++;
      }
      return replaced;
    },
  }),
};

function deployment() {
  const t = convexTest({ schema, modules });
  const prefix = Object.keys(component.modules)
    .find((k) => k.includes("/_generated/"))!
    .replace(/_generated\/.*$/, "");
  t.registerComponent("migrations", component.schema, {
    ...component.modules,
    [`${prefix}oldState.ts`]: async () => oldState,
  });
  return t;
}

test("a worker row without position or lastHopDied resumes from its cursor and completes", async () => {
  const t = deployment();
  await seedTodos(t, TODOS);
  // The older release's first batch: the first 30 todos migrated, its cursor kept.
  const cursor = await t.run(async (ctx) => {
    const page = await paginator(ctx.db, schema).query("todos").paginate({ cursor: null, numItems: DONE_BEFORE });
    for (const doc of page.page) await ctx.db.patch(doc._id, { counter: (doc.counter ?? 0) + 1 });
    return page.continueCursor;
  });
  await t.run(async (ctx) => {
    const fnHandle = await createFunctionHandle(internal.counting.countTodos);
    const insert = (components.migrations as unknown as Record<string, Record<string, FunctionReference<"mutation", "internal">>>)
      .oldState!.insert!;
    await ctx.runMutation(insert, {
      migration: { name: NAME, kind: "function", fnHandle, isDone: false, latestStart: 1_000, parallelism: 1 },
      // Its hop is gone (the deployment was replaced), so no scheduledId.
      worker: {
        index: 0,
        state: {
          status: "inProgress",
          cursor,
          batchSize: DONE_BEFORE,
          maxBatchSize: 400,
          adaptive: true,
          processed: DONE_BEFORE,
          updated: DONE_BEFORE,
          batches: 1,
          cheapStreak: 0,
          occRetries: 0,
          startedMs: 1_000,
          lastBatchMs: 1_500,
          generation: 1,
          oneBatchOnly: false,
        },
      },
    });
  });
  const status = async () =>
    (await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [NAME] })))[0]!;
  expect(await status()).toMatchObject({ name: NAME, state: "inProgress", processed: DONE_BEFORE, cursor });

  await t.mutation(internal.counting.run, { fn: NAME });
  await drain(t);

  expect((await todos(t)).map((d) => d.counter ?? 0)).toEqual(Array(TODOS).fill(1));
  expect(await status()).toMatchObject({ state: "success", isDone: true, processed: TODOS, estimate: { fractionDone: 1 } });
});

test("a hop scheduled by the previous release, without scheduledAt, runs its batch and the chain completes", async () => {
  const t = deployment();
  await seedTodos(t, TODOS);
  await t.mutation(internal.counting.run, { fn: NAME, batchSize: DONE_BEFORE } as never);
  const replaced = await t.run(async (ctx) => {
    const api = components.migrations as unknown as Record<string, Record<string, FunctionReference<"mutation", "internal">>>;
    return await ctx.runMutation(api.oldState!.rescheduleAsBefore!, {});
  });
  expect(replaced).toBe(1);
  await drain(t);

  expect((await todos(t)).map((d) => d.counter ?? 0)).toEqual(Array(TODOS).fill(1));
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [NAME] }));
  expect(row).toMatchObject({ state: "success", isDone: true, processed: TODOS });
});
