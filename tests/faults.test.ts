/**
 * The fault matrix: each case breaks a run in one way, on both layers, and
 * ends by proving exactly-once processing. The migrations increment a todo's
 * `counter`, so a document processed twice shows 2 and one skipped shows 0;
 * every case asserts the counters, a status that agrees with them, and that
 * a re-run changes nothing.
 *
 * Layer 1 runs `counting:*` through the drop-in runner; Layer 2 runs the
 * versioned set in example/convex/faults.ts (one migration, `countTodos`).
 */
import { createFunctionHandle, makeFunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import { migrations as countingMigrations } from "../example/convex/counting";
import { countTodos as versionedCountTodos } from "../example/convex/faults";
import { deployment, drain, seedTodos, todos, type Deployment } from "./harness";

const ORIGINAL_UP = { ...versionedCountTodos.up };

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  // Undo any simulated redeploy of the versioned migration.
  Object.assign(versionedCountTodos.up, ORIGINAL_UP);
  delete (versionedCountTodos.up as { workers?: number }).workers;
});

// ---------------------------------------------------------------- helpers

type ComponentCtx = {
  db: { query: (table: string) => { collect: () => Promise<Record<string, unknown>[]> } };
  scheduler: { cancel: (id: string) => Promise<void> };
};

/** Run code inside the component (convex-test has this, untyped). */
async function inComponent<T>(t: Deployment, fn: (ctx: ComponentCtx) => Promise<T>): Promise<T> {
  const runInComponent = (t as unknown as { runInComponent: (path: string, f: (ctx: ComponentCtx) => Promise<T>) => Promise<T> })
    .runInComponent;
  return await runInComponent("migrations", fn);
}

async function workerRows(t: Deployment) {
  return (await inComponent(t, async (ctx) => await ctx.db.query("workers").collect())) as {
    _id: string;
    index: number;
    scheduledId?: string;
    state: { status: string; processed: number; generation: number };
  }[];
}

/** Run exactly the hops that are due now (one batch per running chain). */
async function oneHop(t: Deployment) {
  vi.runOnlyPendingTimers();
  await t.finishInProgressScheduledFunctions();
}

/** Each todo's counter, 0 where the migration never wrote it. */
async function counters(t: Deployment) {
  return (await todos(t)).map((d) => d.counter ?? 0);
}

const ones = (n: number) => Array<number>(n).fill(1);

// Layer 1
async function runDropIn(t: Deployment, fn: string, args: Record<string, unknown> = {}) {
  return await t.mutation(internal.counting.run, { fn, ...args });
}
async function dropInStatus(t: Deployment, name: string) {
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
  return row!;
}
async function cancelDropIn(t: Deployment, name: string) {
  return await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancel, { name }));
}
/** A completed drop-in migration run again is skipped: data and status stay. */
async function expectDropInRerunIsNoop(t: Deployment, name: string) {
  const before = await counters(t);
  const status = await dropInStatus(t, name);
  await runDropIn(t, name);
  await drain(t);
  expect(await counters(t)).toEqual(before);
  expect(await dropInStatus(t, name)).toMatchObject({ state: "success", isDone: true, processed: status.processed });
}

// Layer 2
const ID = versionedCountTodos.id;
type StartArgs = Record<string, unknown>;
const start = (t: Deployment, args: StartArgs = {}) => t.mutation(internal.faults.start, args as never);
const status = (t: Deployment) => t.query(internal.faults.status, {});
const cancelRun = (t: Deployment, args: { runId?: string } = {}) => t.mutation(internal.faults.cancel, args);
/** A completed versioned set started again has nothing to do: data and status stay. */
async function expectVersionedRerunIsNoop(t: Deployment) {
  const before = await counters(t);
  const runs = (await status(t)).recentRuns.length;
  expect((await start(t)).status).toBe("noop");
  await drain(t);
  expect(await counters(t)).toEqual(before);
  const s = await status(t);
  expect(s.recentRuns).toHaveLength(runs);
  expect(s.pending).toEqual([]);
  expect(s.migrations[0]!.state).toBe("completed");
}

// ---------------------------------------------------------------- 1. a throwing migrateOne

describe("1. migrateOne throws at document k; fix and resume", () => {
  // First document (first batch), middle, last document (last batch).
  const AT = [0, 25, 39];

  test.each(AT)("layer 1: poison at document %i", async (k) => {
    const t = deployment();
    await seedTodos(t, 40, (i) => ({ text: i === k ? "poison" : `todo ${i}` }));
    const poison = (await todos(t))[k]!._id;
    await runDropIn(t, "counting:countUnlessPoison");
    await drain(t);

    const failed = await dropInStatus(t, "counting:countUnlessPoison");
    expect(failed).toMatchObject({ state: "failed", isDone: false, failedDocumentId: poison });
    expect(failed.error).toContain(poison);
    // Committed batches form a prefix of ones; the failing batch left no trace.
    const c = await counters(t);
    const done = c.indexOf(0);
    expect(c).toEqual([...ones(done), ...Array<number>(40 - done).fill(0)]);
    expect(done).toBeLessThanOrEqual(k);
    expect(failed.processed).toBe(done);

    await t.run(async (ctx) => ctx.db.patch(poison, { text: "fixed" }));
    await runDropIn(t, "counting:countUnlessPoison");
    await drain(t);
    expect(await counters(t)).toEqual(ones(40));
    expect(await dropInStatus(t, "counting:countUnlessPoison")).toMatchObject({ state: "success", processed: 40 });
    await expectDropInRerunIsNoop(t, "counting:countUnlessPoison");
  });

  test.each(AT)("layer 2: poison at document %i", async (k) => {
    const t = deployment();
    await seedTodos(t, 40, (i) => ({ text: i === k ? "poison" : `todo ${i}` }));
    const poison = (await todos(t))[k]!._id;
    const run = await start(t);
    await drain(t);

    const s = await status(t);
    expect(s.migrations[0]!.state).toBe("failed");
    expect(s.recentRuns[0]).toMatchObject({ runId: run.runId, status: "failed" });
    expect(s.recentRuns[0]!.items[0]!.error).toContain(poison);
    expect(s.activeRun).toBeNull();
    const c = await counters(t);
    const done = c.indexOf(0);
    expect(c).toEqual([...ones(done), ...Array<number>(40 - done).fill(0)]);
    expect(done).toBeLessThanOrEqual(k);

    await t.run(async (ctx) => ctx.db.patch(poison, { text: "fixed" }));
    const resumed = await start(t);
    expect(resumed.plan).toEqual([expect.objectContaining({ id: ID, resume: true })]);
    await drain(t);
    expect(await counters(t)).toEqual(ones(40));
    const after = await status(t);
    expect(after.migrations[0]!.state).toBe("completed");
    expect(after.recentRuns[0]).toMatchObject({ runId: resumed.runId, status: "succeeded" });
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 2. transaction limits

describe("2. a transaction limit hit mid-run shrinks the batch and loses nothing", () => {
  // The first 30 todos write little; the last 30 write 20 KB each, so a
  // batch of ten that fit before is 200 KB over a 100 KB limit.
  const seedMixed = (t: Deployment) => seedTodos(t, 60, (i) => ({ text: i < 30 ? `todo ${i}` : `big ${i}` }));

  test("layer 1", async () => {
    const t = deployment({ bytesWritten: 100_000 });
    await seedMixed(t);
    await runDropIn(t, "counting:padBigTodos");
    await drain(t);
    const row = await dropInStatus(t, "counting:padBigTodos");
    expect(row).toMatchObject({ state: "success", processed: 60 });
    expect(row.batchSize).toBeLessThan(10);
    const docs = await todos(t);
    expect(docs.map((d) => d.counter)).toEqual(ones(60));
    expect(docs.slice(30).every((d) => d.text.length === 20_000)).toBe(true);
    await expectDropInRerunIsNoop(t, "counting:padBigTodos");
  });

  test("layer 2", async () => {
    const t = deployment({ bytesWritten: 100_000 });
    await seedMixed(t);
    await start(t);
    await drain(t);
    const s = await status(t);
    expect(s.recentRuns[0]).toMatchObject({ status: "succeeded", items: [{ status: "completed", processed: 60 }] });
    const docs = await todos(t);
    expect(docs.map((d) => d.counter)).toEqual(ones(60));
    expect(docs.slice(30).every((d) => d.text.length === 20_000)).toBe(true);
    const [worker] = await workerRows(t);
    expect(worker!.state).toMatchObject({ status: "success", processed: 60 });
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 3. cancel

describe("3. cancel mid-run, twice, and after the end", () => {
  test("layer 1: cancel mid-run, cancel again, resume, cancel the finished run", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    await runDropIn(t, "counting:countTodos", { batchSize: 10 }); // its first batch runs inline
    expect((await cancelDropIn(t, "counting:countTodos")).state).toBe("canceled");
    const twice = await cancelDropIn(t, "counting:countTodos");
    expect(twice).toMatchObject({ state: "canceled", processed: 10 });
    await drain(t); // the canceled chain's hop must not run
    expect(await counters(t)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "canceled", processed: 10, isDone: false });

    await runDropIn(t, "counting:countTodos");
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "success", processed: 50 });
    expect(await cancelDropIn(t, "counting:countTodos")).toMatchObject({ state: "success", isDone: true });
    await expectDropInRerunIsNoop(t, "counting:countTodos");
  });

  test("layer 2: cancel mid-run, cancel again, resume, cancel the finished run", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    const run = await start(t, { batchSize: 10 });
    await oneHop(t);
    expect(await cancelRun(t)).toMatchObject({ canceled: true, runId: run.runId });
    expect(await cancelRun(t)).toMatchObject({ canceled: false });
    expect(await cancelRun(t, { runId: run.runId })).toMatchObject({ canceled: false });
    await drain(t);
    expect(await counters(t)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);
    let s = await status(t);
    expect(s.activeRun).toBeNull();
    expect(s.migrations[0]!.state).toBe("canceled");
    expect(s.recentRuns[0]).toMatchObject({ status: "canceled", items: [{ status: "canceled" }] });
    expect((await workerRows(t)).map((w) => w.state)).toEqual([expect.objectContaining({ status: "canceled", processed: 10 })]);

    const resumed = await start(t);
    expect(resumed.plan).toEqual([expect.objectContaining({ id: ID, resume: true })]);
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    s = await status(t);
    expect(s.migrations[0]!.state).toBe("completed");
    expect(s.recentRuns.map((r) => r.status)).toEqual(["succeeded", "canceled"]);
    expect(await cancelRun(t)).toMatchObject({ canceled: false });
    expect(await cancelRun(t, { runId: resumed.runId })).toMatchObject({ canceled: false });
    expect((await status(t)).recentRuns[0]!.status).toBe("succeeded");
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 4. concurrent starts

describe("4. two starts at once leave one writer", () => {
  // convex-test runs transactions one at a time, as Convex's OCC makes them
  // appear: the second start sees the first one's writes.
  test("layer 1: the same migration started twice, by the runner and runOne", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    const [a, b, c] = await Promise.all([
      runDropIn(t, "counting:countTodos", { batchSize: 10 }),
      runDropIn(t, "counting:countTodos", { batchSize: 10 }),
      t.run(async (ctx) => {
        const { migrations } = await import("../example/convex/counting");
        return await migrations.runOne(ctx, internal.counting.countTodos, { batchSize: 10 });
      }),
    ]);
    expect([a, b, c].map((r) => (r as { state: string }).state)).toEqual(["inProgress", "inProgress", "inProgress"]);
    expect(await workerRows(t)).toHaveLength(1);
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "success", processed: 50 });
    await expectDropInRerunIsNoop(t, "counting:countTodos");
  });

  test("layer 2: two ups, and an up with a down, started at once", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    const [first, second, down] = await Promise.all([
      start(t, { batchSize: 10 }),
      start(t, { batchSize: 10 }),
      start(t, { direction: "down", steps: 1 }),
    ]);
    expect(first).toMatchObject({ status: "running" });
    expect(second).toMatchObject({ status: "running", runId: first.runId, alreadyRunning: true });
    expect(down).toMatchObject({ status: "running", runId: first.runId, alreadyRunning: true });
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    const s = await status(t);
    expect(s.recentRuns).toHaveLength(1);
    expect(s.recentRuns[0]).toMatchObject({ status: "succeeded", direction: "up", items: [{ processed: 50 }] });
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 5. the app writes during the run

describe("5. the app inserts, updates and deletes while the migration runs", () => {
  test("layer 1, in by_done order: behind the cursor is not visited, ahead is visited once", async () => {
    const t = deployment();
    await seedTodos(t, 30, () => ({ done: true }));
    const seeded = await todos(t);
    await runDropIn(t, "counting:countTodosByDone"); // the inline first batch: ten todos done; the cursor sits inside the done: true group
    expect((await dropInStatus(t, "counting:countTodosByDone")).processed).toBe(10);

    const ids = await t.run(async (ctx) => {
      // done: false sorts before done: true, so these land behind the cursor.
      // The run will not visit them: the app must write the new format itself
      // (here: counter 1), and one that does not stays unmigrated.
      const behindNew = await ctx.db.insert("todos", { text: "behind, new format", done: false, counter: 1 });
      const behindOld = await ctx.db.insert("todos", { text: "behind, old format", done: false });
      // The newest done: true todo sorts last: ahead of the cursor.
      const ahead = await ctx.db.insert("todos", { text: "ahead", done: true });
      await ctx.db.patch(seeded[2]!._id, { text: "edited after its batch" });
      await ctx.db.patch(seeded[20]!._id, { text: "edited before its batch" });
      await ctx.db.delete(seeded[5]!._id);
      await ctx.db.delete(seeded[25]!._id);
      return { behindNew, behindOld, ahead };
    });
    await drain(t);

    const byId = new Map((await todos(t)).map((d) => [d._id as string, d]));
    expect(byId.has(seeded[5]!._id) || byId.has(seeded[25]!._id)).toBe(false);
    expect(byId.get(ids.behindNew)!.counter).toBe(1); // written by the app, never by the run
    expect(byId.get(ids.behindOld)!.counter).toBeUndefined(); // outside this run: the documented gap
    expect(byId.get(ids.ahead)!.counter).toBe(1);
    expect(byId.get(seeded[2]!._id)).toMatchObject({ counter: 1, text: "edited after its batch" });
    expect(byId.get(seeded[20]!._id)).toMatchObject({ counter: 1, text: "edited before its batch" });
    const rest = [...byId.values()].filter((d) => d._id !== ids.behindOld);
    expect(rest.map((d) => d.counter)).toEqual(ones(30)); // 30 seeded - 2 deleted + 2 inserted ones
    // 10 before the writes, then 19 seeded (one was deleted) and 1 inserted.
    expect(await dropInStatus(t, "counting:countTodosByDone")).toMatchObject({ state: "success", processed: 30 });
    await expectDropInRerunIsNoop(t, "counting:countTodosByDone");
  });

  test("layer 2, in _creationTime order: every insert is ahead and visited once", async () => {
    const t = deployment();
    await seedTodos(t, 30);
    const seeded = await todos(t);
    await start(t, { batchSize: 10 });
    await oneHop(t);
    const inserted = await t.run(async (ctx) => {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await ctx.db.insert("todos", { text: `inserted ${i}` }));
      await ctx.db.patch(seeded[2]!._id, { text: "edited after its batch" });
      await ctx.db.patch(seeded[20]!._id, { text: "edited before its batch" });
      await ctx.db.delete(seeded[5]!._id);
      await ctx.db.delete(seeded[25]!._id);
      return ids;
    });
    await drain(t);
    const docs = await todos(t);
    expect(docs).toHaveLength(31);
    expect(docs.map((d) => d.counter)).toEqual(ones(31));
    expect(inserted.every((id) => docs.some((d) => d._id === id))).toBe(true);
    expect(docs.find((d) => d._id === seeded[20]!._id)!.text).toBe("edited before its batch");
    // 10 before the writes (one since deleted), then 19 seeded and 3 inserted.
    expect((await status(t)).recentRuns[0]).toMatchObject({ status: "succeeded", items: [{ processed: 32 }] });
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 6. a redeploy mid-run

describe("6. the migration's code changes between batches", () => {
  /** Simulate deploying an edited migration: same id, different migrateOne. */
  function redeployEdited() {
    (versionedCountTodos.up as { migrateOne: unknown }).migrateOne = (_ctx: unknown, doc: { counter?: number }) => ({
      counter: (doc.counter ?? 0) + 1,
      done: true,
    });
  }
  function redeployOriginal() {
    Object.assign(versionedCountTodos.up, ORIGINAL_UP);
  }

  test("while running: the next batch refuses the new code, the run stops, and start is blocked by drift", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    const run = await start(t, { batchSize: 10 });
    const planned = (await status(t)).migrations[0]!.checksum;
    await oneHop(t);
    redeployEdited();
    await drain(t);

    // Not one document was touched by the edited code.
    const docs = await todos(t);
    expect(docs.map((d) => d.counter ?? 0)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);
    expect(docs.every((d) => d.done === undefined)).toBe(true);
    const s = await status(t);
    // Stopped as canceled, not failed: a failed migration's edit is a fix
    // that resumes, but this edit was never asked for (docs/DECISIONS.md).
    expect(s.migrations[0]).toMatchObject({ state: "canceled", storedChecksum: planned });
    expect(s.migrations[0]!.checksum).not.toBe(planned);
    expect(s.activeRun).toBeNull();
    expect(s.recentRuns[0]).toMatchObject({ runId: run.runId, status: "canceled" });
    expect(s.drift).toEqual([
      expect.objectContaining({ kind: "checksum_mismatch", id: ID, storedChecksum: planned, blocking: true }),
    ]);
    // What the refused batch said: both checksums and the two ways on.
    const refusal = t.mutation(internal.faults.batch, {
      cursor: null,
      oneBatchOnly: true,
      versioned: { migrationId: ID, direction: "up", runId: run.runId!, checksum: planned },
    });
    await expect(refusal).rejects.toThrow(new RegExp(`${ID} changed since this run started: the run planned ${planned}`));
    await expect(refusal).rejects.toThrow(/Deploy the original code.*--allow-drift/);

    const blocked = await start(t);
    expect(blocked.status).toBe("drift_blocked");
    expect(blocked.drift).toEqual([expect.objectContaining({ kind: "checksum_mismatch", id: ID, blocking: true })]);
    await drain(t);
    expect((await status(t)).recentRuns).toHaveLength(1);

    // Deploying the original code back resumes where the run stopped.
    redeployOriginal();
    const resumed = await start(t);
    expect(resumed).toMatchObject({ status: "running", plan: [{ id: ID, resume: true }] });
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    expect((await status(t)).migrations[0]!.state).toBe("completed");
    await expectVersionedRerunIsNoop(t);
  });

  test("while canceled: start is blocked; allowDrift continues with the new code, on the record", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    await start(t, { batchSize: 10 });
    await oneHop(t);
    await cancelRun(t);
    redeployEdited();
    const blocked = await start(t);
    expect(blocked).toMatchObject({ status: "drift_blocked", drift: [{ kind: "checksum_mismatch", id: ID }] });
    await drain(t);
    expect(await counters(t)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);

    const allowed = await start(t, { allowDrift: true });
    expect(allowed).toMatchObject({ status: "running", driftAllowed: true, plan: [{ id: ID, resume: true }] });
    await drain(t);
    const docs = await todos(t);
    expect(docs.map((d) => d.counter)).toEqual(ones(50));
    // The mix is deliberate and visible: the first ten ran the old code.
    expect(docs.map((d) => d.done === true)).toEqual([...Array<boolean>(10).fill(false), ...Array<boolean>(40).fill(true)]);
    expect((await status(t)).recentRuns[0]).toMatchObject({ status: "succeeded", driftAllowed: true });
    expect((await status(t)).drift).toEqual([]);
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 7. a broken chain

describe("7. a scheduled batch that never runs", () => {
  /** Cancel every pending hop in the component, as if the scheduler lost them. */
  async function breakTheChain(t: Deployment) {
    const broken = await inComponent(t, async (ctx) => {
      const ids: string[] = [];
      for (const w of await ctx.db.query("workers").collect()) {
        if (typeof w.scheduledId === "string") {
          await ctx.scheduler.cancel(w.scheduledId);
          ids.push(w.scheduledId);
        }
      }
      return ids;
    });
    expect(broken.length).toBeGreaterThan(0);
  }

  test("layer 1: status says stalled and a start resumes from the cursor", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    await runDropIn(t, "counting:countTodos", { batchSize: 10 });
    expect((await dropInStatus(t, "counting:countTodos")).stalled).toBeUndefined();
    await breakTheChain(t); // after the inline first batch, its next hop is lost
    await drain(t);
    expect(await counters(t)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "inProgress", stalled: true, processed: 10 });

    const recovered = await runDropIn(t, "counting:countTodos");
    expect((recovered as { stalled?: boolean }).stalled).toBeUndefined();
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "success", processed: 50 });
    await expectDropInRerunIsNoop(t, "counting:countTodos");
  });

  test("layer 2: the active run shows the stall and a start recovers it", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    const run = await start(t, { batchSize: 10 });
    await oneHop(t);
    await breakTheChain(t);
    await drain(t);
    expect(await counters(t)).toEqual([...ones(10), ...Array<number>(40).fill(0)]);
    const stalled = (await status(t)).activeRun!;
    expect(stalled.items[0]!.progress).toMatchObject({ processed: 10, stalled: true });

    const again = await start(t);
    expect(again).toMatchObject({ status: "running", runId: run.runId, alreadyRunning: true });
    expect((await status(t)).activeRun!.items[0]!.progress!.stalled).toBeUndefined();
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
    expect((await status(t)).recentRuns).toEqual([
      expect.objectContaining({ runId: run.runId, status: "succeeded", items: [expect.objectContaining({ processed: 50 })] }),
    ]);
    await expectVersionedRerunIsNoop(t);
  });

  test("a live hop is not a stall: a start while it is pending starts no second chain", async () => {
    const t = deployment();
    await seedTodos(t, 50);
    await runDropIn(t, "counting:countTodos", { batchSize: 10 });
    await oneHop(t);
    const [before] = await workerRows(t);
    await runDropIn(t, "counting:countTodos");
    const [after] = await workerRows(t);
    expect(after!.state.generation).toBe(before!.state.generation);
    await drain(t);
    expect(await counters(t)).toEqual(ones(50));
  });
});

// ---------------------------------------------------------------- 8. parallel workers

describe("8. parallel range workers with a failure in one range", () => {
  /** 40 todos spread over time, so four `_creationTime` ranges each hold some. */
  async function seedSpread(t: Deployment, poisonAt: number) {
    for (let i = 0; i < 40; i++) {
      await seedTodos(t, 1, () => ({ text: i === poisonAt ? "poison" : `todo ${i}` }));
      vi.advanceTimersByTime(1000);
    }
    return (await todos(t))[poisonAt]?._id;
  }

  test("layer 1: the failing range stops the others; a fixed run resumes every range", async () => {
    const t = deployment();
    const poison = (await seedSpread(t, 17))!;
    await runDropIn(t, "counting:countUnlessPoisonInParallel");
    await drain(t);
    const failed = await dropInStatus(t, "counting:countUnlessPoisonInParallel");
    expect(failed).toMatchObject({ state: "failed", failedDocumentId: poison });
    expect(failed.workers).toHaveLength(4);
    expect(failed.workers!.filter((w) => w.status === "failed")).toHaveLength(1);
    const c = await counters(t);
    expect(c.every((n) => n === 0 || n === 1)).toBe(true);
    expect(c[17]).toBe(0);
    expect(failed.processed).toBe(c.filter((n) => n === 1).length);

    await t.run(async (ctx) => ctx.db.patch(poison, { text: "fixed" }));
    await runDropIn(t, "counting:countUnlessPoisonInParallel");
    await drain(t);
    expect(await counters(t)).toEqual(ones(40));
    const done = await dropInStatus(t, "counting:countUnlessPoisonInParallel");
    expect(done).toMatchObject({ state: "success", processed: 40 });
    expect(done.workers!.map((w) => w.status)).toEqual(Array(4).fill("success"));
    await expectDropInRerunIsNoop(t, "counting:countUnlessPoisonInParallel");
  });

  test("layer 1: without a failure, four ranges count every todo once", async () => {
    const t = deployment();
    await seedSpread(t, -1);
    // Batches of 5: the first worker fans out after its first batch.
    await runDropIn(t, "counting:countUnlessPoisonInParallel");
    await drain(t);
    expect(await counters(t)).toEqual(ones(40));
    const row = await dropInStatus(t, "counting:countUnlessPoisonInParallel");
    expect(row).toMatchObject({ state: "success", processed: 40 });
    expect(row.workers).toHaveLength(4);
    expect(row.workers!.every((w) => w.processed > 0)).toBe(true);
  });

  test("layer 2: a step with four workers over a small table runs as one, fails and resumes after a fix", async () => {
    // Workers are not part of the checksum: the same migration, run wider.
    (versionedCountTodos.up as { workers?: number }).workers = 4;
    const t = deployment();
    const poison = (await seedSpread(t, 30))!;
    await start(t, { batchSize: 3 });
    await drain(t);
    const s = await status(t);
    expect(s.migrations[0]!.state).toBe("failed");
    expect(s.recentRuns[0]!.items[0]!.error).toContain(poison);
    // 40 todos end before the batch size (3, then growing) settles: one worker.
    expect(await workerRows(t)).toHaveLength(1);
    const c = await counters(t);
    expect(c.every((n) => n === 0 || n === 1)).toBe(true);
    expect(c[30]).toBe(0);

    await t.run(async (ctx) => ctx.db.patch(poison, { text: "fixed" }));
    await start(t);
    await drain(t);
    expect(await counters(t)).toEqual(ones(40));
    expect((await workerRows(t)).map((w) => w.state.status)).toEqual(["success"]);
    expect((await status(t)).recentRuns[0]).toMatchObject({ status: "succeeded", items: [{ processed: 40 }] });
    await expectVersionedRerunIsNoop(t);
  });
});

// ---------------------------------------------------------------- 9. the driving transaction's own limits

describe("9. a read limit never leaves a run stuck: the batch is budgeted from what the transaction has left", () => {
  const READ_LIMIT = { bytesRead: 300_000 };
  const KB20 = "x".repeat(20_000);

  /** Todos with the given texts; their ids in order. */
  async function seedTexts(t: Deployment, texts: string[]) {
    return await t.run(async (ctx) => {
      const ids: string[] = [];
      for (const text of texts) ids.push(await ctx.db.insert("todos", { text }));
      return ids;
    });
  }
  /** Each todo's counter, read one document per transaction (the table is larger than one may read). */
  async function countersOf(t: Deployment, ids: string[]) {
    const out: number[] = [];
    for (const id of ids) {
      out.push(await t.run(async (ctx) => ((await ctx.db.get(id as never)) as { counter?: number } | null)?.counter ?? 0));
    }
    return out;
  }

  test("layer 1: 20 KB documents under a 300 KB read limit complete exactly once in smaller batches", async () => {
    const t = deployment(READ_LIMIT);
    const ids = await seedTexts(t, Array<string>(20).fill(KB20));
    await runDropIn(t, "counting:countTodos");
    await drain(t);
    const row = await dropInStatus(t, "counting:countTodos");
    expect(row).toMatchObject({ state: "success", isDone: true, processed: 20 });
    expect(row.stalled).toBeUndefined();
    expect(row.batchSize).toBeLessThan(20);
    expect(await countersOf(t, ids)).toEqual(ones(20));
  });

  test("layer 2: the same run on the versioned layer succeeds, and the next start has nothing to do", async () => {
    const t = deployment(READ_LIMIT);
    const ids = await seedTexts(t, Array<string>(20).fill(KB20));
    await start(t, { batchSize: 100 });
    await drain(t);
    const s = await status(t);
    expect(s.activeRun).toBeNull();
    expect(s.recentRuns[0]).toMatchObject({ status: "succeeded", items: [{ status: "completed", processed: 20 }] });
    expect(await countersOf(t, ids)).toEqual(ones(20));
    expect((await start(t)).status).toBe("noop");
  });

  test("layer 1: a document that alone exceeds the batch's share ends failed at its position, the rest untouched", async () => {
    const t = deployment(READ_LIMIT);
    const texts = [...Array<string>(5).fill("small"), "big".padEnd(200_000, "."), ...Array<string>(4).fill("small")];
    const ids = await seedTexts(t, texts);
    await runDropIn(t, "counting:countTodos", { batchSize: 4 });
    await drain(t);
    const row = await dropInStatus(t, "counting:countTodos");
    expect(row).toMatchObject({ state: "failed", isDone: false });
    expect(row.stalled).toBeUndefined();
    expect(row.error).toMatch(/exceeds a transaction limit even in a batch of one/);
    expect(row.error).toMatch(/Read too much data/);
    // The failure names the position: the cursor right before the document.
    expect(row.error).toContain(`after cursor ${row.cursor}`);
    expect(await countersOf(t, ids.filter((_, i) => i !== 5))).toEqual([...ones(5), 0, 0, 0, 0]);
  });

  test("layer 2: a document that alone exceeds the batch's share fails the run at its position", async () => {
    const t = deployment(READ_LIMIT);
    const texts = [...Array<string>(5).fill("small"), "big".padEnd(200_000, "."), ...Array<string>(4).fill("small")];
    const ids = await seedTexts(t, texts);
    const run = await start(t, { batchSize: 4 });
    await drain(t);
    const s = await status(t);
    expect(s.activeRun).toBeNull();
    expect(s.recentRuns[0]).toMatchObject({ runId: run.runId, status: "failed" });
    expect(s.recentRuns[0]!.items[0]!.error).toMatch(/exceeds a transaction limit even in a batch of one: .*Read too much data/);
    expect(await countersOf(t, ids.filter((_, i) => i !== 5))).toEqual([...ones(5), 0, 0, 0, 0]);
  });

  async function deadHopSetup(t: Deployment) {
    // One document larger than what a whole transaction may read.
    return await seedTexts(t, ["small", "small", "huge".padEnd(350_000, "."), "small"]);
  }

  test("layer 1: a document larger than a whole transaction: status shows the dead hop, a start records it as failed, never looping", async () => {
    const t = deployment(READ_LIMIT);
    const ids = await deadHopSetup(t);
    await runDropIn(t, "counting:countTodos", { batchSize: 2 });
    await drain(t);
    const stuck = await dropInStatus(t, "counting:countTodos");
    expect(stuck).toMatchObject({ state: "inProgress", stalled: true, processed: 2 });
    // convex-test keeps no error text in the hop's record; a deployment keeps Convex's.
    expect(stuck.error).toMatch(/its last batch died and recorded nothing: .*Start it again/);

    const recorded = await runDropIn(t, "counting:countTodos");
    expect(recorded).toMatchObject({ state: "failed", isDone: false });
    await drain(t);
    const failed = await dropInStatus(t, "counting:countTodos");
    expect(failed).toMatchObject({ state: "failed", processed: 2 });
    expect(failed.stalled).toBeUndefined();
    // The first batch of 2 was cheap, so the one that died had grown eightfold.
    expect(failed.error).toMatch(/the batch of 16 after cursor .* died as a whole transaction before anything could be recorded/);
    expect(await countersOf(t, [ids[0]!, ids[1]!, ids[3]!])).toEqual([1, 1, 0]);

    // A further start resumes; the same document kills that hop too, and the start after records it.
    await runDropIn(t, "counting:countTodos");
    await drain(t);
    await runDropIn(t, "counting:countTodos");
    await drain(t);
    const again = await dropInStatus(t, "counting:countTodos");
    expect(again).toMatchObject({ state: "failed", processed: 2 });
    expect(again.stalled).toBeUndefined();
    expect(await countersOf(t, [ids[0]!, ids[1]!, ids[3]!])).toEqual([1, 1, 0]);
  });

  test("layer 2: a hop that dies whole fails the run on the next start instead of attaching to it forever", async () => {
    const t = deployment(READ_LIMIT);
    await deadHopSetup(t);
    const run = await start(t, { batchSize: 2 });
    await drain(t);
    const stuck = (await status(t)).activeRun!;
    expect(stuck.items[0]!.progress).toMatchObject({ processed: 2, stalled: true });
    expect(stuck.items[0]!.progress!.error).toMatch(/its last batch died and recorded nothing/);

    await start(t);
    await drain(t);
    const s = await status(t);
    expect(s.activeRun).toBeNull();
    expect(s.recentRuns[0]).toMatchObject({ runId: run.runId, status: "failed" });
    expect(s.recentRuns[0]!.items[0]!.error).toMatch(/died as a whole transaction/);
    expect(s.migrations[0]!.state).toBe("failed");
  });

  test("a filtering customRange's first batch reads only its page: no scan backwards for bounds, so no estimate", async () => {
    const t = deployment(true);
    await t.run(async (ctx) => {
      for (let i = 0; i < 40; i++) await ctx.db.insert("todos", { text: `head ${i}` });
      // Its last match lies before all of these: a backwards read scans them all.
      for (let i = 0; i < 300; i++) await ctx.db.insert("todos", { text: "tail" });
    });
    type Batch = { processed: number; usage?: { databaseQueries: number }; position?: { indexKey?: { bounds?: unknown } } };
    const batch = async (fn: typeof internal.faults.countHead) =>
      (await t.mutation(fn, { cursor: null, batchSize: 20, oneBatchOnly: true, dryRun: false })) as Batch;
    // The first batch, as the component calls it: one query, the page's.
    const filtered = await batch(internal.faults.countHead);
    expect(filtered.processed).toBe(20);
    expect(filtered.usage?.databaseQueries).toBe(1);
    expect(filtered.position?.indexKey?.bounds).toBeUndefined();
    // An index range that does not filter still reports its bounds, read with one query more.
    const indexed = await batch(internal.faults.countInCreationOrder);
    expect(indexed.usage?.databaseQueries).toBe(2);
    expect(indexed.position?.indexKey?.bounds).toBeDefined();

    await t.run(async (ctx) => {
      for (const doc of await ctx.db.query("todos").collect()) await ctx.db.patch(doc._id, { counter: undefined });
    });
    await t.mutation(internal.faults.run, { fn: "faults:countHead" });
    await drain(t);
    expect(await dropInStatus(t, "faults:countHead")).toMatchObject({ state: "success", isDone: true, processed: 40 });
    const docs = await todos(t);
    expect(docs.filter((d) => d.text !== "tail").map((d) => d.counter)).toEqual(ones(40));
    expect(docs.filter((d) => d.text === "tail").every((d) => d.counter === undefined)).toBe(true);
  });
});

// ---------------------------------------------------------------- 10. the drop-in API and versioned runs

describe("10. the drop-in cancel functions leave versioned runs alone; clearAll pages past them", () => {
  async function runningVersioned(t: Deployment) {
    await seedTodos(t, 30);
    const run = await start(t, { batchSize: 3 });
    await oneHop(t);
    expect((await status(t)).activeRun).toMatchObject({ runId: run.runId, status: "running" });
    return run;
  }
  async function expectVersionedRunCompletes(t: Deployment, runId: string | undefined, dropIn = ones(30).map(() => 0)) {
    await drain(t);
    expect((await status(t)).recentRuns[0]).toMatchObject({ runId, status: "succeeded", items: [{ processed: 30 }] });
    // Each todo counted once by the versioned run, besides what a drop-in counted.
    expect(await counters(t)).toEqual(ones(30).map((one, i) => one + dropIn[i]!));
  }

  test("lib:cancelAll cancels drop-in migrations only", async () => {
    const t = deployment();
    const run = await runningVersioned(t);
    const before = await counters(t);
    await runDropIn(t, "counting:countTodosByDone");
    // The drop-in start runs its first batch inside the start itself.
    const dropIn = (await counters(t)).map((n, i) => n - before[i]!);
    const canceled = await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancelAll, {}));
    expect(canceled.map((r) => r.name)).toEqual(["counting:countTodosByDone"]);
    expect(await dropInStatus(t, "counting:countTodosByDone")).toMatchObject({ state: "canceled" });
    expect((await status(t)).activeRun).toMatchObject({ runId: run.runId, status: "running" });
    await expectVersionedRunCompletes(t, run.runId, dropIn);
  });

  test("migrations.cancelAll from the client leaves the versioned run going", async () => {
    const t = deployment();
    const run = await runningVersioned(t);
    expect(await t.run(async (ctx) => await countingMigrations.cancelAll(ctx))).toEqual([]);
    await expectVersionedRunCompletes(t, run.runId);
  });

  test("lib:cancel on a versioned step is refused, naming the versioned cancel", async () => {
    const t = deployment();
    const run = await runningVersioned(t);
    const error = await cancelDropIn(t, `${ID}:up`).then(
      () => expect.fail("expected a refusal"),
      (e: { data?: { message?: string } }) => e.data?.message ?? String(e),
    );
    expect(error).toMatch(/is a step of a versioned run/);
    expect(error).toMatch(/npx convex-migrate cancel/);
    expect((await status(t)).activeRun).toMatchObject({ runId: run.runId, status: "running" });
    await expectVersionedRunCompletes(t, run.runId);
  });

  test("lib:clearAll clears a drop-in row behind 100 newer versioned rows", async () => {
    const t = deployment();
    await seedTodos(t, 5);
    await runDropIn(t, "counting:countTodos");
    await drain(t);
    vi.advanceTimersByTime(1000);
    await inComponent(t, async (ctx) => {
      const db = ctx.db as unknown as { insert: (table: string, doc: Record<string, unknown>) => Promise<string> };
      for (let i = 0; i < 101; i++) {
        await db.insert("migrations", {
          name: `20261201_0900${String(i).padStart(2, "0")}_v:up`,
          kind: "versioned",
          fnHandle: "function://versioned",
          isDone: true,
          latestStart: 0,
          parallelism: 1,
        });
      }
    });
    vi.advanceTimersByTime(1000);
    await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.clearAll, {}));
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "unknown", processed: 0 });
    const left = (await inComponent(t, async (ctx) => await ctx.db.query("migrations").collect())) as { kind: string }[];
    expect(left).toHaveLength(101);
    expect(left.every((m) => m.kind === "versioned")).toBe(true);
  });
});

// ---------------------------------------------------------------- 11. a series entry that breaks after the start

describe("11. a later migration of a series that can no longer start", () => {
  test("its status says why instead of the series stopping silently", async () => {
    const t = deployment();
    await seedTodos(t, 5);
    await runDropIn(t, "counting:countTodos", { next: ["counting:countTodosByDone"], batchSize: 2 });
    // A redeploy between the start and the hop: the next entry is now an ordinary mutation.
    const plain = await t.run(
      async () => await createFunctionHandle(makeFunctionReference<"mutation">("faults:plainMutation")),
    );
    await inComponent(t, async (ctx) => {
      const db = ctx.db as unknown as { patch: (id: string, fields: Record<string, unknown>) => Promise<void> };
      for (const m of await ctx.db.query("migrations").collect()) {
        if (m.name === "counting:countTodos") {
          await db.patch(m._id as string, { next: [{ name: "counting:countTodosByDone", fnHandle: plain }] });
        }
      }
    });
    await drain(t);
    expect(await dropInStatus(t, "counting:countTodos")).toMatchObject({ state: "success", processed: 5 });
    const next = await dropInStatus(t, "counting:countTodosByDone");
    expect(next).toMatchObject({ state: "failed", processed: 0, isDone: false });
    expect(next.error).toMatch(/it could not start: counting:countTodosByDone is not a migration/);
    expect(await counters(t)).toEqual(ones(5));
  });
});
