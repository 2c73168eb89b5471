/**
 * The migration (job) level as a user meets it: what a batch costs at the
 * engine's boundary, workers that share what one learned, and rows and hops
 * stored by an earlier version carried on by this one.
 */
import { convexTest } from "convex-test";
import { makeFunctionReference, mutationGeneric } from "convex/server";
import type { GenericId } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import componentSchema from "../convex/schema";
import { components, internal } from "../example/convex/_generated/api";
import schema from "../example/convex/schema";
import { engineCalls } from "../js-shim/src/engine";
import { deployment, drain, modules, seedTodos, todos, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

async function status(t: Deployment, name: string) {
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
  return row!;
}

describe("one engine call per batch", () => {
  test("every scheduled batch of a run calls the engine exactly once", async () => {
    const t = deployment();
    await seedTodos(t, 300);
    // Batches held at 10 by the migration's ceiling: many hops, each one batch.
    await t.mutation(internal.counting.run, { fn: "counting:countTodosByDone" });
    const before = await status(t, "counting:countTodosByDone");
    const callsBefore = engineCalls();
    await drain(t);
    const calls = engineCalls() - callsBefore;
    const after = await status(t, "counting:countTodosByDone");
    expect(after).toMatchObject({ state: "success", isDone: true, processed: 300 });
    const batches = after.batches! - before.batches!;
    expect(batches).toBeGreaterThan(5);
    expect(calls / batches).toBe(1);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });

  test("parallel workers also cost one call per batch, and end at one size", async () => {
    const t = deployment();
    await seedTodos(t, 4_000);
    await t.mutation(internal.counting.run, { fn: "counting:countTodosInParallel" });
    const before = await status(t, "counting:countTodosInParallel");
    const callsBefore = engineCalls();
    await drain(t);
    const calls = engineCalls() - callsBefore;
    const after = await status(t, "counting:countTodosInParallel");
    expect(after).toMatchObject({ state: "success", processed: 4_000 });
    expect(calls / (after.batches! - before.batches!)).toBe(1);
    // The first worker fanned out once its size settled; the others started
    // at the size it had reached (the migration's ceiling of 100).
    const sizes = after.workers!.map((w) => w.batchSize);
    expect(sizes).toEqual([100, 100, 100, 100]);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });
});

describe("one engine call per batch of a versioned run", () => {
  test("the run's batches each call the engine once, the deployed code's checksum included", async () => {
    const t = deployment();
    // 50, then 400, then 3,200 documents: the counted hops stay mid-run.
    await seedTodos(t, 5_000);
    const started = await t.mutation(internal.faults.start, { batchSize: 50 } as never);
    expect(started.status).toBe("running");
    // The first hop hashes the deployed code once; every later batch reuses it.
    vi.runOnlyPendingTimers();
    await t.finishInProgressScheduledFunctions();
    const progress = async () => (await t.query(internal.faults.status, {})).activeRun!.items[0]!.progress!;
    const before = (await progress()).batches;
    const callsBefore = engineCalls();
    for (let i = 0; i < 2; i++) {
      vi.runOnlyPendingTimers();
      await t.finishInProgressScheduledFunctions();
    }
    const calls = engineCalls() - callsBefore;
    expect((await progress()).batches - before).toBe(2);
    expect(calls).toBe(2);
    await drain(t);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });
});

/**
 * The component as deployed, plus one test-only module that rewrites the
 * stored workers into the shape an earlier version stored (no `position`,
 * `lastHopDied`, `nextHop`, `lastBatchProcessed`), and replaces each pending
 * hop with one in the earlier version's arguments (`worker`, `generation`).
 * Its writes are checked against the component's schema, as a push of the
 * new component over the old rows would check them.
 */
const componentModules = {
  ...import.meta.glob(["../convex/**/*.ts", "!../convex/**/*.test.ts"]),
  "../convex/oldState.ts": async () => ({
    storeWorkersAsBefore: mutationGeneric({
      args: {},
      handler: async (ctx) => {
        for (const row of await ctx.db.query("workers").collect()) {
          const { position: _p, lastHopDied: _l, nextHop: _n, lastBatchProcessed: _b, ...state } = row.state as Record<
            string,
            unknown
          >;
          const hop = row.scheduledId ? await ctx.db.system.get(row.scheduledId as GenericId<"_scheduled_functions">) : null;
          const pending = hop?.state.kind === "pending";
          if (pending) await ctx.scheduler.cancel(row.scheduledId as GenericId<"_scheduled_functions">);
          const scheduledId =
            pending
              ? await ctx.scheduler.runAfter(0, makeFunctionReference<"mutation">("worker:tick"), {
                  worker: row._id,
                  generation: state.generation,
                })
              : undefined;
          await ctx.db.replace(row._id, {
            migration: row.migration,
            index: row.index,
            state,
            ...(scheduledId ? { scheduledId } : {}),
          });
        }
      },
    }),
  }),
};

function deploymentWithOldState() {
  const t = convexTest({ schema, modules });
  t.registerComponent("migrations", componentSchema, componentModules);
  return t;
}

const storeWorkersAsBefore = makeFunctionReference<"mutation">("oldState:storeWorkersAsBefore");

describe("rows and hops an earlier version stored", () => {
  test("a running worker of the old shape, with its old-style hop pending, finishes exactly once", async () => {
    const t = deploymentWithOldState();
    await seedTodos(t, 450);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 100 });
    await (t as unknown as { runInComponent: (p: string, f: (ctx: never) => Promise<void>) => Promise<void> }).runInComponent(
      "migrations",
      async (ctx: { runMutation: (f: typeof storeWorkersAsBefore, a: object) => Promise<void> }) =>
        await ctx.runMutation(storeWorkersAsBefore, {}),
    );
    await drain(t);
    expect(await status(t, "counting:countTodos")).toMatchObject({ state: "success", isDone: true, processed: 450 });
    expect((await todos(t)).map((d) => d.counter)).toEqual(Array<number>(450).fill(1));
  });

  test("a canceled worker of the old shape resumes from its cursor with the size it learned", async () => {
    const t = deploymentWithOldState();
    await seedTodos(t, 3_000);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    // One hop after the first batch: the size has grown past the default
    // (100, then 800 documents of 3,000).
    vi.runOnlyPendingTimers();
    await t.finishInProgressScheduledFunctions();
    await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancel, { name: "counting:countTodos" }));
    const canceled = await status(t, "counting:countTodos");
    expect(canceled.state).toBe("canceled");
    expect(canceled.batchSize).toBeGreaterThan(100);
    await (t as unknown as { runInComponent: (p: string, f: (ctx: never) => Promise<void>) => Promise<void> }).runInComponent(
      "migrations",
      async (ctx: { runMutation: (f: typeof storeWorkersAsBefore, a: object) => Promise<void> }) =>
        await ctx.runMutation(storeWorkersAsBefore, {}),
    );
    // Resuming with the migration's own default size keeps the learned one.
    const resumed = await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    expect(resumed).toMatchObject({ batchSize: canceled.batchSize });
    await drain(t);
    expect(await status(t, "counting:countTodos")).toMatchObject({ state: "success", processed: 3_000 });
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });
});
