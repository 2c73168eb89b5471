/**
 * Parallel range workers through the example app's
 * `counting:countTodosInParallel` (workers: 4): one table split into four
 * `_creationTime` ranges, four self-scheduling chains. Each document's
 * `counter` shows how many times it was migrated.
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
    // Ranges of 2,000: no chain ends in its first hop (100, then 800).
    await seedTodos(t, 8000);
    await start(t);
    await oneHop(t);
    const row = await status(t);
    expect(row.state).toBe("inProgress");
    expect(row.workers!.every((w) => w.processed > 0)).toBe(true);
    expect(row.processed).toBe(row.workers!.reduce((sum, w) => sum + w.processed, 0));
    expect(await pendingHops(t)).toBe(4);
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 8000 });
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
    const RANGE = 50;
    const t = deployment(true);
    await seedTodos(t, 4 * RANGE);
    // Start at one document per batch; the start runs range 0's first batch
    // and schedules the others' (batches grow eightfold after a cheap one, so
    // the poison goes in before range 2's first batch, which is then it alone).
    await t.mutation(internal.counting.run, { fn: NAME, batchSize: 1 });
    // Make the next document range 2 reads too big to read in a nested batch
    // (over 15 MiB of the 16 MiB read limit): it fails even alone, at once.
    const { lo, hi } = (await status(t)).workers![2]!.range!;
    const poison = await t.run(async (ctx) => {
      const next = await ctx.db
        .query("todos")
        .withIndex("by_creation_time", (q) => q.gte("_creationTime", lo!).lt("_creationTime", hi!))
        .filter((q) => q.eq(q.field("counter"), undefined))
        .first();
      await ctx.db.patch(next!._id, { text: "p".repeat(16_000_000) });
      return next!._id;
    });
    await drain(t);

    const failed = await status(t);
    expect(failed).toMatchObject({ state: "failed", isDone: false });
    expect(failed.error).toMatch(/limit|too much/i);
    expect(failed.workers![2]!.status).toBe("failed");
    expect(await pendingHops(t)).toBe(0);
    // The other ranges were stopped part-way (or before their first batch), not run to their end.
    const stopped = failed.workers!.filter((w) => w.index !== 2);
    expect(stopped.every((w) => w.status !== "success" && w.processed < RANGE)).toBe(true);
    expect(stopped[0]!.processed).toBeGreaterThan(0);
    // Every committed batch counted once; nothing migrated twice.
    await t.run(async (ctx) => await ctx.db.patch(poison, { text: "fixed" }));
    const partial = await counters(t);
    expect(partial[2]).toBeUndefined();
    expect(partial[1]).toBe(failed.processed);

    // With the document fixed, resume: every range picks up where it stopped.
    await start(t);
    await drain(t);
    expect(await counters(t)).toEqual({ 1: 4 * RANGE });
    const done = await status(t);
    expect(done).toMatchObject({ state: "success", isDone: true, processed: 4 * RANGE });
    expect(done.workers!.every((w) => w.status === "success")).toBe(true);
    expect(done.workers!.reduce((sum, w) => sum + w.processed, 0)).toBe(4 * RANGE);
    expectContiguous(done.workers!);
  });
});
