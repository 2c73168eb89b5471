/**
 * Worker rows written by earlier releases, left mid-run: one from before
 * the optional `position` and `lastHopDied` fields existed, and four equal
 * ranges created at a start (before a lone worker fanned out once its size
 * settled). After an upgrade the component's table still accepts them
 * (Convex validates stored rows on push), and starting the migration again
 * resumes each from its stored cursor and completes, each document
 * migrated once.
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
  /** A migration and several workers, as a release that split ranges at the start stored them. */
  insertMany: mutationGeneric({
    args: { migration: v.any(), workers: v.array(v.any()) },
    handler: async (ctx, { migration, workers }) => {
      const id = await ctx.db.insert("migrations", migration as never);
      for (const worker of workers) await ctx.db.insert("workers", { ...(worker as object), migration: id } as never);
      return null;
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

test("four equal ranges created at the start by an earlier release, some mid-run, finish unchanged and exactly once", async () => {
  const PARALLEL = "counting:countTodosInParallel";
  const t = deployment();
  await seedTodos(t, 400);
  const all = await todos(t);
  const lo = all[0]!._creationTime;
  const hi = all[all.length - 1]!._creationTime;
  // The earlier release's split: four equal spans, open at both ends.
  const cuts = [1, 2, 3].map((i) => lo + ((hi - lo) * i) / 4);
  const ranges = [{ hi: cuts[0] }, { lo: cuts[0], hi: cuts[1] }, { lo: cuts[1], hi: cuts[2] }, { lo: cuts[2] }];
  /** Migrate the first `n` todos of a range as that release's batch did; its cursor. */
  const walk = async (range: { lo?: number; hi?: number }, n: number) =>
    await t.run(async (ctx) => {
      const page = await paginator(ctx.db, schema)
        .query("todos")
        .withIndex("by_creation_time", (q) => {
          const lower = range.lo !== undefined ? q.gte("_creationTime", range.lo) : q;
          return range.hi !== undefined ? lower.lt("_creationTime", range.hi) : lower;
        })
        .paginate({ cursor: null, numItems: n });
      for (const doc of page.page) await ctx.db.patch(doc._id, { counter: (doc.counter ?? 0) + 1 });
      return { cursor: page.continueCursor, processed: page.page.length, isDone: page.isDone };
    });
  const first = await walk(ranges[0]!, 30);
  const second = await walk(ranges[1]!, 1_000);
  const fourth = await walk(ranges[3]!, 50);
  expect(second.isDone).toBe(true);
  const state = (range: object, fields: object) => ({
    status: "inProgress",
    batchSize: 100,
    maxBatchSize: 100,
    adaptive: true,
    processed: 0,
    updated: 0,
    batches: 0,
    cheapStreak: 0,
    occRetries: 0,
    startedMs: 1_000,
    generation: 1,
    oneBatchOnly: false,
    range,
    ...fields,
  });
  const done = (w: { cursor: string; processed: number }) => ({
    cursor: w.cursor,
    processed: w.processed,
    updated: w.processed,
    batches: 1,
    lastBatchMs: 1_500,
  });
  await t.run(async (ctx) => {
    const fnHandle = await createFunctionHandle(internal.counting.countTodosInParallel);
    const insertMany = (components.migrations as unknown as Record<string, Record<string, FunctionReference<"mutation", "internal">>>)
      .oldState!.insertMany!;
    await ctx.runMutation(insertMany, {
      migration: { name: PARALLEL, kind: "function", fnHandle, isDone: false, latestStart: 1_000, parallelism: 4 },
      // Their hops are gone (the deployment was replaced), so no scheduledId.
      workers: [
        { index: 0, state: state(ranges[0]!, done(first)) },
        { index: 1, state: state(ranges[1]!, { ...done(second), status: "success", endedMs: 1_600 }) },
        { index: 2, state: state(ranges[2]!, {}) },
        { index: 3, state: state(ranges[3]!, done(fourth)) },
      ],
    });
  });
  const status = async () =>
    (await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [PARALLEL] })))[0] as {
      state: string;
      processed: number;
      workers?: { index: number; status: string; range?: { lo?: number; hi?: number } }[];
    };
  expect(await status()).toMatchObject({ state: "inProgress", processed: 30 + second.processed + 50 });

  await t.mutation(internal.counting.run, { fn: PARALLEL });
  await drain(t);

  expect((await todos(t)).map((d) => d.counter ?? 0)).toEqual(Array(400).fill(1));
  const after = await status();
  expect(after).toMatchObject({ state: "success", processed: 400 });
  // The same four workers over the same ranges: nothing fanned out on top of them.
  expect(after.workers!.map((w) => [w.index, w.status])).toEqual([0, 1, 2, 3].map((i) => [i, "success"]));
  expect(after.workers!.map((w) => w.range)).toEqual(ranges);
});
