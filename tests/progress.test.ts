/**
 * Progress people can plan around: the `estimate` on status rows and on
 * versioned runs, as a migration runs hop by hop. The estimate comes from
 * the walk's `_creationTime` position, never from counting the table.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import { deployment, drain, seedExampleApp, seedTodos, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const HOP_MS = 1_000;

async function row(t: Deployment, name: string) {
  const [status] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
  return status!;
}

/** Let a second pass, then run the hops that are due (one batch per chain). */
async function hop(t: Deployment) {
  vi.advanceTimersByTime(HOP_MS);
  vi.runOnlyPendingTimers();
  await t.finishInProgressScheduledFunctions();
}

type Row = Awaited<ReturnType<typeof row>>;

/** Hop until the migration ends, keeping the status row seen after each hop. */
async function follow(t: Deployment, name: string, between: (seen: Row[]) => Promise<void> = async () => {}) {
  const seen: Row[] = [await row(t, name)];
  for (let i = 0; i < 200 && !seen[seen.length - 1]!.isDone; i++) {
    await between(seen);
    await hop(t);
    seen.push(await row(t, name));
  }
  return seen;
}

describe("estimate on status rows", () => {
  test("a _creationTime walk rises to exactly 1 with a time left that shrinks", async () => {
    const t = deployment();
    await seedTodos(t, 1_000);
    // Batches of 2, 16, 128, then the rest: three rows part-way.
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 2 });
    const seen = await follow(t, "counting:countTodos");
    // The first batch runs inside the starting mutation, so the first row
    // read already stands on its position: 2 of 1,000 evenly spread todos.
    expect(seen[0]).toMatchObject({ processed: 2, estimate: { basis: "creationTime" } });
    expect(seen[0]!.estimate!.fractionDone!).toBeCloseTo(0.002, 2);
    const running = seen.filter((r) => !r.isDone && r.processed > 0);
    expect(running.length).toBeGreaterThan(2);
    for (const r of running) {
      expect(r.estimate?.basis).toBe("creationTime");
      // Documents are spread evenly in time here, so the position is the share processed.
      expect(r.estimate!.fractionDone!).toBeCloseTo(r.processed / 1_000, 1);
      expect(r.estimate!.fractionDone!).toBeLessThan(1);
    }
    const fractions = running.map((r) => r.estimate!.fractionDone!);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    const etas = running.map((r) => r.estimate!.etaMs).filter((e): e is number => e !== null);
    expect(etas.length).toBeGreaterThan(1);
    expect(etas[etas.length - 1]!).toBeLessThan(etas[0]!);
    expect(seen[seen.length - 1]).toMatchObject({ isDone: true, processed: 1_000, estimate: { fractionDone: 1, etaMs: 0, basis: "done" } });
  });

  test("documents inserted during the run never take it past 100%", async () => {
    const t = deployment();
    await seedTodos(t, 200);
    // Batches of 1, 8, 64, then the rest: the app's inserts land while it runs.
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 1 });
    let inserted = 0;
    const seen = await follow(t, "counting:countTodos", async () => {
      // The app keeps writing: 60 new todos per hop for the first few hops.
      if (inserted < 300) {
        await seedTodos(t, 60);
        inserted += 60;
      }
    });
    const last = seen[seen.length - 1]!;
    // Every insert landed ahead of the cursor and was migrated.
    expect(inserted).toBeGreaterThanOrEqual(180);
    expect(last).toMatchObject({ isDone: true, processed: 200 + inserted, estimate: { fractionDone: 1 } });
    for (const r of seen.slice(0, -1)) {
      expect(r.estimate!.fractionDone ?? 0).toBeLessThan(1);
    }
    const fractions = seen.slice(0, -1).map((r) => r.estimate!.fractionDone ?? 0);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  });

  test("range workers combine their ranges into one fraction", async () => {
    const t = deployment();
    await seedTodos(t, 800);
    // Ranges of 200 in batches of 2, 16, 128, then the rest.
    await t.mutation(internal.counting.run, { fn: "counting:countTodosInParallel", batchSize: 2 });
    const seen = await follow(t, "counting:countTodosInParallel");
    const running = seen.filter((r) => !r.isDone && r.estimate?.fractionDone !== null);
    expect(running.length).toBeGreaterThan(1);
    for (const r of running) expect(r.estimate!.fractionDone!).toBeCloseTo(r.processed / 800, 1);
    expect(seen[seen.length - 1]).toMatchObject({ processed: 800, estimate: { fractionDone: 1, basis: "done" } });
  });

  // Over a numeric index key a customRange walk has one: tests/estimate-range.test.ts.
  test("a customRange walk over a boolean index, given no schema, shows no percentage rather than a wrong one", async () => {
    const t = deployment();
    await seedTodos(t, 50, (i) => ({ done: i % 2 === 0 }));
    await t.mutation(internal.counting.run, { fn: "counting:countTodosByDone" });
    await hop(t);
    expect(await row(t, "counting:countTodosByDone")).toMatchObject({
      isDone: false,
      estimate: { fractionDone: null, etaMs: null, basis: "none" },
    });
    await drain(t);
    expect(await row(t, "counting:countTodosByDone")).toMatchObject({ isDone: true, estimate: { fractionDone: 1 } });
  });
});

describe("estimate on versioned runs", () => {
  test("the run's progress rises across its planned migrations to exactly 1", async () => {
    const t = deployment();
    await seedExampleApp(t);
    const started = await t.mutation(internal.migrate.start, { batchSize: 10 } as never);
    expect(started.status).toBe("running");
    const fractions: number[] = [];
    for (let i = 0; i < 200; i++) {
      const report = await t.query(internal.migrate.status, {});
      const run = report.activeRun ?? report.recentRuns[0];
      const fraction = run?.estimate?.fractionDone;
      if (fraction !== null && fraction !== undefined) fractions.push(fraction);
      if (!report.activeRun) break;
      await hop(t);
    }
    expect(fractions.length).toBeGreaterThan(2);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fractions.slice(0, -1).every((f) => f < 1)).toBe(true);
    expect(fractions[fractions.length - 1]).toBe(1);
  });
});
