/**
 * Layer 1: the @convex-dev/migrations API, through the example app, on
 * convex-test. Each test asserts what a user would see: the data and status.
 */
import { runToCompletion } from "convex-migrate";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import { deployment, drain, seedTodos, todos, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

async function getStatus(t: Deployment, names: string[]) {
  return await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names }));
}

/** Run exactly the hops that are due now (one batch per running chain). */
async function oneHop(t: Deployment) {
  vi.runOnlyPendingTimers();
  await t.finishInProgressScheduledFunctions();
}

async function componentRows(t: Deployment) {
  return await t.run(async (ctx) => (await ctx.runQuery(components.migrations.lib.getStatus, {})).length);
}

async function seedMyTable(t: Deployment, docs: Record<string, unknown>[]) {
  await t.run(async (ctx) => {
    for (const d of docs) await ctx.db.insert("myTable", { requiredField: "x", ...d } as never);
  });
}

async function myTable(t: Deployment) {
  return await t.run(async (ctx) => await ctx.db.query("myTable").collect());
}

describe("batches", () => {
  test("the default batch size is 100 and a migration's own batchSize wins", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    // The first batch runs inside the starting mutation, as the peer's does.
    const started = await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    expect(started).toMatchObject({ state: "inProgress", processed: 100, batches: 1 });
    expect(await getStatus(t, ["counting:countTodos"])).toMatchObject([{ processed: 100, batches: 1 }]);

    await seedMyTable(t, Array.from({ length: 25 }, (_, i) => ({ unionField: i })));
    await t.mutation(internal.dropIn.run, { fn: "convertUnionField" });
    const [row] = await getStatus(t, ["dropIn:convertUnionField"]);
    expect(row).toMatchObject({ batches: 1 });
    expect(row!.processed).toBeGreaterThanOrEqual(10);
    await drain(t);
    expect((await myTable(t)).every((d) => typeof d.unionField === "string")).toBe(true);
  });

  test("a migration without a batch size starts at the constructor's defaultBatchSize", async () => {
    const t = deployment();
    await seedTodos(t, 30);
    const started = await t.mutation(internal.faults.run, { fn: "faults:countInSevens" });
    // The first batch took the constructor's 7 (the size shown is the next batch's).
    expect(started).toMatchObject({ state: "inProgress", processed: 7, batches: 1 });
    await drain(t);
    expect(await getStatus(t, ["faults:countInSevens"])).toMatchObject([{ state: "success", processed: 30 }]);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });

  test("the runner's batchSize overrides the migration's", async () => {
    const t = deployment();
    await seedTodos(t, 40);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 7 });
    // The first batch took the runner's 7; the size shown is the next batch's, grown from that cheap one.
    expect(await getStatus(t, ["counting:countTodos"])).toMatchObject([{ processed: 7, batches: 1, batchSize: 56 }]);
  });

  test("cheap batches grow toward the limits, so a large table needs few batches", async () => {
    const t = deployment();
    await seedTodos(t, 3000);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    const [row] = await getStatus(t, ["counting:countTodos"]);
    expect(row).toMatchObject({ state: "success", processed: 3000 });
    // 30 batches at a fixed 100; growth needs far fewer.
    expect(row!.batches).toBeLessThan(15);
  });
});

describe("migrateOne", () => {
  test("a returned patch is applied and a key set to undefined removes the field", async () => {
    const t = deployment();
    await seedMyTable(t, [{ optionalField: "a" }, { optionalField: "b" }, {}]);
    await t.mutation(internal.dropIn.run, { fn: "dropIn:clearField" });
    await drain(t);
    expect((await myTable(t)).map((d) => "optionalField" in d)).toEqual([false, false, false]);
  });

  test("customRange limits the migration to an index range", async () => {
    const t = deployment();
    await seedMyTable(t, [{ requiredField: "" }, { requiredField: "ok" }, { requiredField: "" }]);
    await t.mutation(internal.dropIn.run, { fn: "validateRequiredField" });
    await drain(t);
    expect(await getStatus(t, ["dropIn:validateRequiredField"])).toMatchObject([
      { state: "success", processed: 2 },
    ]);
  });

  test("a series given with next runs in order", async () => {
    const t = deployment();
    await seedMyTable(t, [{}, {}]);
    // setDefaultValue then clearField: in this order the field ends up removed.
    await t.mutation(internal.dropIn.runAll, {});
    await drain(t);
    expect((await myTable(t)).map((d) => d.optionalField)).toEqual([undefined, undefined]);
    const rows = await getStatus(t, ["dropIn:setDefaultValue", "dropIn:clearField"]);
    expect(rows.map((r) => r.state)).toEqual(["success", "success"]);
    expect(rows[0]!.latestEnd!).toBeLessThanOrEqual(rows[1]!.latestStart);
  });
});

describe("dry run", () => {
  test("a dry run reports one batch's changes with samples and leaves nothing behind", async () => {
    const t = deployment();
    await seedMyTable(t, [{}, { optionalField: "kept" }, {}]);
    const result = (await t.mutation(internal.dropIn.run, { fn: "dropIn:setDefaultValue", dryRun: true })) as {
      dryRun: { processed: number; updated: number; samples: { before: { optionalField?: string }; after: { optionalField?: string } }[] };
    };
    expect(result.dryRun.processed).toBe(3);
    expect(result.dryRun.samples).toHaveLength(2);
    expect(result.dryRun.samples[0]!.before.optionalField).toBeUndefined();
    expect(result.dryRun.samples[0]!.after.optionalField).toBe("default");
    await drain(t);
    expect((await myTable(t)).map((d) => d.optionalField)).toEqual([undefined, "kept", undefined]);
    expect(await componentRows(t)).toBe(0);
  });
});

describe("cancel, resume, reset", () => {
  test("cancel stops between batches and a later run resumes from the cursor", async () => {
    const t = deployment();
    await seedTodos(t, 500);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 100 });
    await t.run(async (ctx) => ctx.runMutation(components.migrations.lib.cancel, { name: "counting:countTodos" }));
    await drain(t);
    const [canceled] = await getStatus(t, ["counting:countTodos"]);
    expect(canceled).toMatchObject({ state: "canceled", processed: 100 });

    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
    expect(await getStatus(t, ["counting:countTodos"])).toMatchObject([{ state: "success", processed: 500 }]);
  });

  test("canceling twice or after the end changes nothing", async () => {
    const t = deployment();
    await seedTodos(t, 20);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    const cancel = () =>
      t.run(async (ctx) => ctx.runMutation(components.migrations.lib.cancel, { name: "counting:countTodos" }));
    expect((await cancel()).state).toBe("success");
    expect((await cancel()).state).toBe("success");
  });

  test("reset runs a completed migration again from the start", async () => {
    const t = deployment();
    await seedTodos(t, 30);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true); // completed: skipped
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", reset: true });
    await drain(t);
    expect((await todos(t)).every((d) => d.counter === 2)).toBe(true);
  });
});

describe("failures", () => {
  test("a failing document fails the migration by id, its batch rolls back whole, and a fixed run resumes", async () => {
    const t = deployment();
    await seedTodos(t, 40, (i) => ({ text: i === 25 ? "poison" : `todo ${i}` }));
    const poison = (await todos(t))[25]!._id;
    await t.mutation(internal.counting.run, { fn: "counting:countUnlessPoison", batchSize: 10 });
    await drain(t);
    const [row] = await getStatus(t, ["counting:countUnlessPoison"]);
    expect(row).toMatchObject({ state: "failed", failedDocumentId: poison });
    expect(row!.error).toContain(poison);
    const counters = (await todos(t)).map((d) => d.counter ?? 0);
    // The batch before the poisoned one committed; the poisoned batch (the other 30, the size
    // having grown after a cheap first batch) left no trace.
    expect(counters.slice(0, 10)).toEqual(Array(10).fill(1));
    expect(counters.slice(10)).toEqual(Array(30).fill(0));

    await t.run(async (ctx) => ctx.db.patch(poison, { text: "fixed" }));
    await t.mutation(internal.counting.run, { fn: "counting:countUnlessPoison" });
    await drain(t);
    expect((await todos(t)).map((d) => d.counter)).toEqual(Array(40).fill(1));
    expect(await getStatus(t, ["counting:countUnlessPoison"])).toMatchObject([{ state: "success", processed: 40 }]);
  });

  test("a batch over a transaction limit is retried smaller, down to what fits", async () => {
    const t = deployment({ bytesWritten: 400_000 });
    await seedTodos(t, 60);
    await t.mutation(internal.counting.run, { fn: "counting:padTodos" });
    await drain(t);
    const [row] = await getStatus(t, ["counting:padTodos"]);
    expect(row).toMatchObject({ state: "success", processed: 60 });
    expect(row!.batchSize).toBeLessThan(50);
    expect((await todos(t)).every((d) => d.counter === 1 && d.text.length === 20_000)).toBe(true);
  });
});

describe("the peer's faults, fixed", () => {
  test("runOne and runSerially do nothing while the migration is in progress", async () => {
    const t = deployment();
    // 100 inline, then 800 in the first hop: 100 are left for a later one.
    await seedTodos(t, 1_000);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 100 });
    await oneHop(t);
    await t.run(async (ctx) => {
      const { migrations } = await import("../example/convex/counting");
      const again = await migrations.runOne(ctx, internal.counting.countTodos);
      expect(again.state).toBe("inProgress");
      await migrations.runSerially(ctx, [internal.counting.countTodos]);
    });
    await drain(t);
    expect((await todos(t)).every((d) => d.counter === 1)).toBe(true);
  });

  test("getStatus answers in the order asked", async () => {
    const t = deployment();
    await seedTodos(t, 5);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    const names = ["zeta:never", "counting:countTodos", "alpha:never"];
    expect((await getStatus(t, names)).map((r) => r.name)).toEqual(names);
  });

  test("runToCompletion takes over a scheduled run without processing any document twice", async () => {
    const t = deployment();
    await seedTodos(t, 350);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 100 });
    await oneHop(t); // the scheduled chain has done one batch and scheduled the next
    const done = await t.run(async (ctx) =>
      runToCompletion(ctx, components.migrations, internal.counting.countTodos, { batchSize: 50 }),
    );
    expect(done.isDone).toBe(true);
    await drain(t); // the stale scheduled hop runs and must do nothing
    expect((await todos(t)).map((d) => d.counter)).toEqual(Array(350).fill(1));
  });

  test("a stale cursor error says to pass reset: true", async () => {
    const t = deployment();
    await seedTodos(t, 5);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", cursor: "not-a-cursor" });
    await drain(t);
    const [row] = await getStatus(t, ["counting:countTodos"]);
    expect(row!.state).toBe("failed");
    expect(row!.error).toMatch(/reset: true/);
  });
});

describe("bad input is refused and writes nothing", () => {
  test.each([[0], [-5], [2.5], [1e9]])("batch size %s", async (batchSize) => {
    const t = deployment();
    await seedTodos(t, 5);
    await expect(t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize })).rejects.toThrow(
      /batch size/i,
    );
    expect(await componentRows(t)).toBe(0);
    expect((await todos(t)).every((d) => d.counter === undefined)).toBe(true);
  });

  test("an unknown function name", async () => {
    const t = deployment();
    await expect(t.mutation(internal.counting.run, { fn: "counting:nope" })).rejects.toThrow(/is not a migration/);
    expect(await componentRows(t)).toBe(0);
  });

  test("a function that is not a migration", async () => {
    const t = deployment();
    await expect(t.mutation(internal.counting.run, { fn: "counting:run" })).rejects.toThrow(/is not a migration/);
    expect(await componentRows(t)).toBe(0);
  });

  test("a runner with no migration named", async () => {
    const t = deployment();
    await expect(t.mutation(internal.counting.run, {})).rejects.toThrow(/Name the migration/);
  });
});
