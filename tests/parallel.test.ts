/**
 * Parallel range workers through the example app's
 * `counting:countTodosInParallel` (workers: 4, batches held at 100): one
 * worker starts over the whole table, and once its batch size settles
 * (here after its first batch) the rest is split into `_creationTime`
 * ranges, four self-scheduling chains in all. Each document's `counter`
 * shows how many times it was migrated.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import { deployment, drain, seedTodos, todos, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const NAME = "counting:countTodosInParallel";

type WorkerRow = { index: number; status: string; processed: number; batchSize: number; range?: { lo?: number; hi?: number } };

async function status(t: Deployment) {
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [NAME] }));
  return row as typeof row & { workers?: WorkerRow[]; batches?: number; failedDocumentId?: string };
}

async function start(t: Deployment) {
  await t.mutation(internal.counting.run, { fn: NAME });
}

/** Run exactly the hops that are due now: one batch per running chain. */
async function oneHop(t: Deployment) {
  vi.runOnlyPendingTimers();
  await t.finishInProgressScheduledFunctions();
}

/** How many todos carry each counter value (0 for never migrated). */
async function counters(t: Deployment) {
  const histogram: Record<number, number> = {};
  for (const d of await todos(t)) histogram[d.counter ?? 0] = (histogram[d.counter ?? 0] ?? 0) + 1;
  return histogram;
}

type ScheduledJob = { state: { kind: string } };
type SystemCtx = { db: { system: { query: (table: "_scheduled_functions") => { collect: () => Promise<ScheduledJob[]> } } } };
/** convex-test runs a handler inside a component; not in its published types. */
type RunInComponent = (path: string, handler: (ctx: SystemCtx) => Promise<ScheduledJob[]>) => Promise<ScheduledJob[]>;

/** Scheduled hops of the component that are still to run. */
async function pendingHops(t: Deployment) {
  const { runInComponent } = t as unknown as { runInComponent: RunInComponent };
  const jobs = await runInComponent("migrations", async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
  return jobs.filter((j) => j.state.kind === "pending" || j.state.kind === "inProgress").length;
}

/** The ranges split the table: ordered, touching, unbounded at both ends. */
function expectContiguous(workers: WorkerRow[]) {
  expect(workers.map((w) => w.index)).toEqual([0, 1, 2, 3]);
  expect(workers[0]!.range?.lo).toBeUndefined();
  expect(workers[3]!.range?.hi).toBeUndefined();
  for (let i = 1; i < workers.length; i++) {
    expect(workers[i]!.range?.lo).toBeDefined();
    expect(workers[i]!.range?.lo).toBe(workers[i - 1]!.range?.hi);
  }
}

describe("parallel range workers", () => {
  test("every document is migrated exactly once and status aggregates the four ranges", async () => {
    const t = deployment();
    await seedTodos(t, 1000);
    await start(t);
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 1000 });
    const row = await status(t);
    expect(row).toMatchObject({ state: "success", isDone: true, processed: 1000 });
    expect(row.workers).toHaveLength(4);
    expectContiguous(row.workers!);
    expect(row.workers!.every((w) => w.status === "success" && w.processed > 0)).toBe(true);
    expect(row.workers!.reduce((sum, w) => sum + w.processed, 0)).toBe(1000);
  });

  test("the four chains run at the same time: one hop advances every range", async () => {
    const t = deployment();
    // About 500 per range in batches of 100: no chain ends in its first hop.
    await seedTodos(t, 2000);
    await start(t);
    await oneHop(t);
    const row = await status(t);
    expect(row.state).toBe("inProgress");
    expect(row.workers!.every((w) => w.processed > 0)).toBe(true);
    expect(row.processed).toBe(row.workers!.reduce((sum, w) => sum + w.processed, 0));
    expect(await pendingHops(t)).toBe(4);
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 2000 });
  });

  test("documents inserted while it runs land in a range and are migrated once", async () => {
    const t = deployment();
    await seedTodos(t, 800);
    await start(t);
    await oneHop(t);
    await seedTodos(t, 50);
    await drain(t);
    const histogram = await counters(t);
    // Later inserts fall in the last, open-ended range: all of them are seen, none twice.
    expect(histogram).toEqual({ 1: 850 });
    expect(await status(t)).toMatchObject({ state: "success", processed: 850 });
  });

  test("cancel stops every range", async () => {
    const t = deployment();
    await seedTodos(t, 4000);
    await start(t);
    await oneHop(t);
    await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancel, { name: NAME }));
    const canceled = await status(t);
    expect(canceled.state).toBe("canceled");
    expect(canceled.workers!.every((w) => w.status === "canceled")).toBe(true);
    await drain(t);
    expect(await pendingHops(t)).toBe(0);
    const after = await status(t);
    expect(after.processed).toBe(canceled.processed);
    expect(after.processed).toBeLessThan(4000);
    const histogram = await counters(t);
    expect(histogram[1]).toBe(after.processed);
    expect(histogram[2]).toBeUndefined();
  });

  test("a failure in one range stops all; resume continues every range from its own cursor, exactly once", async () => {
    const POISONED = "counting:countUnlessPoisonInParallel";
    const RANGE = 50;
    const t = deployment();
    await seedTodos(t, 4 * RANGE);
    // Batches of 5: the start runs the first worker's first batch and fans
    // out, so the other ranges exist before any of their batches ran.
    await t.mutation(internal.counting.run, { fn: POISONED });
    const started = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [POISONED] }));
    const workers = (started[0] as { workers?: WorkerRow[] }).workers!;
    expect(workers).toHaveLength(4);
    expectContiguous(workers);
    // Range 2's first document refuses to migrate.
    const { lo, hi } = workers[2]!.range!;
    const poison = await t.run(async (ctx) => {
      const first = await ctx.db
        .query("todos")
        .withIndex("by_creation_time", (q) => q.gte("_creationTime", lo!).lt("_creationTime", hi!))
        .first();
      await ctx.db.patch(first!._id, { text: "poison" });
      return first!._id;
    });
    await drain(t);

    const [failedRow] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [POISONED] }));
    const failed = failedRow as typeof failedRow & { workers?: WorkerRow[] };
    expect(failed).toMatchObject({ state: "failed", isDone: false });
    expect(failed.error).toMatch(/cannot migrate/);
    expect(failed.workers![2]!.status).toBe("failed");
    expect(await pendingHops(t)).toBe(0);
    // The other ranges were stopped part-way, not run to their end.
    const stopped = failed.workers!.filter((w) => w.index !== 2);
    expect(stopped.every((w) => w.status !== "success" && w.processed < RANGE)).toBe(true);
    expect(stopped[0]!.processed).toBeGreaterThan(0);
    // Every committed batch counted once; nothing migrated twice.
    await t.run(async (ctx) => await ctx.db.patch(poison, { text: "fixed" }));
    const partial = await counters(t);
    expect(partial[2]).toBeUndefined();
    expect(partial[1]).toBe(failed.processed);

    // With the document fixed, resume: every range picks up where it stopped.
    await t.mutation(internal.counting.run, { fn: POISONED });
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 4 * RANGE });
    const [doneRow] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [POISONED] }));
    const done = doneRow as typeof doneRow & { workers?: WorkerRow[] };
    expect(done).toMatchObject({ state: "success", isDone: true, processed: 4 * RANGE });
    expect(done.workers!.every((w) => w.status === "success")).toBe(true);
    expect(done.workers!.reduce((sum, w) => sum + w.processed, 0)).toBe(4 * RANGE);
    expectContiguous(done.workers!);
  });

  test("a table one worker finishes in about two more batches stays with that worker", async () => {
    const t = deployment();
    // 100 in the first batch, 150 left: one more whole batch, not two.
    await seedTodos(t, 250);
    await start(t);
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 250 });
    const row = await status(t);
    expect(row).toMatchObject({ state: "success", processed: 250 });
    // One worker: the status row lists no per-worker rows.
    expect(row.workers).toBeUndefined();
  });
});
