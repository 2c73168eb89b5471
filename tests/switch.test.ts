/**
 * Switching a live deployment from @convex-dev/migrations: the component
 * keeps its mount name, so its `migrations` table keeps the peer's rows. Each
 * test writes the peer's row shapes into the component first (through a
 * test-only module mounted in the component's folder, so inserts are checked
 * against the component's schema as a push would check them), then runs the
 * app's runner the way the app would after the switch.
 */
import { convexTest } from "convex-test";
import component from "convex-migrate/test";
import { paginator } from "convex-helpers/server/pagination";
import { createFunctionHandle, makeFunctionReference, mutationGeneric, type FunctionReference } from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import schema from "../example/convex/schema";
import { drain, modules, seedTodos, todos, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const NAME = "counting:countTodos";

/** A row exactly as the peer's `lib:migrate` stores it. */
type PeerRow = {
  name: string;
  cursor: string | null;
  isDone: boolean;
  workerId?: string;
  error?: string;
  processed: number;
  latestStart: number;
  latestEnd?: number;
};

/**
 * Test-only functions in the component's folder. `schedulePeerHop` stands for
 * the old code's next hop: a scheduled `lib:migrate` with the arguments the
 * peer gives it, which after the switch runs the new code's `lib:migrate`.
 */
const peerState = {
  insert: mutationGeneric({
    args: { row: v.any() },
    handler: async (ctx, { row }) => {
      await ctx.db.insert("migrations", row as never);
      return null;
    },
  }),
  schedulePeerHop: mutationGeneric({
    args: { row: v.any(), fnHandle: v.string(), cancel: v.optional(v.boolean()) },
    handler: async (ctx, { row, fnHandle, cancel }) => {
      const workerId = await ctx.scheduler.runAfter(0, makeFunctionReference<"mutation">("lib:migrate"), {
        name: (row as PeerRow).name,
        fnHandle,
        cursor: (row as PeerRow).cursor,
        dryRun: false,
      });
      if (cancel) await ctx.scheduler.cancel(workerId);
      await ctx.db.insert("migrations", { ...(row as PeerRow), workerId } as never);
      return null;
    },
  }),
  /** The component's scheduled `lib:migrate` calls (the peer's hops) and their states. */
  peerHops: mutationGeneric({
    args: {},
    handler: async (ctx) =>
      (await ctx.db.system.query("_scheduled_functions").collect())
        .filter((j) => j.name.startsWith("lib"))
        .map((j) => j.state.kind),
  }),
};

function deployment(): Deployment {
  const t = convexTest({ schema, modules });
  // The component's own modules plus the test-only one, under the same prefix.
  const prefix = Object.keys(component.modules)
    .find((k) => k.includes("/_generated/"))!
    .replace(/_generated\/.*$/, "");
  t.registerComponent("migrations", component.schema, {
    ...component.modules,
    [`${prefix}peerState.ts`]: async () => peerState,
  });
  return t as unknown as Deployment;
}

async function writePeerRow(t: Deployment, row: PeerRow, hop?: "pending" | "canceled") {
  await t.run(async (ctx) => {
    if (!hop) {
      await ctx.runMutation(componentFn("insert"), { row });
      return;
    }
    const fnHandle = await createFunctionHandle(internal.counting.countTodos);
    await ctx.runMutation(componentFn("schedulePeerHop"), { row, fnHandle, cancel: hop === "canceled" });
  });
}

/** A function reference into the mounted component's test-only module. */
function componentFn(name: string) {
  // components.migrations.<module>.<fn> resolves by path inside the component.
  type Ref = FunctionReference<"mutation", "internal", Record<string, unknown>>;
  return (components.migrations as unknown as Record<string, Record<string, Ref>>).peerState![name]!;
}

async function status(t: Deployment) {
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [NAME] }));
  return row!;
}

/** What the peer's countTodos would have done to the first `n` todos, and the cursor it saved after them. */
async function peerFirstBatch(t: Deployment, n: number, reader: "paginator" | "paginate") {
  return await t.run(async (ctx) => {
    const page =
      reader === "paginator"
        ? await paginator(ctx.db, schema).query("todos").paginate({ cursor: null, numItems: n })
        : await ctx.db.query("todos").paginate({ cursor: null, numItems: n });
    for (const doc of page.page) await ctx.db.patch(doc._id, { counter: (doc.counter ?? 0) + 1 });
    return page.continueCursor;
  });
}

const counters = async (t: Deployment) => (await todos(t)).map((d) => d.counter ?? 0);

describe("a deployment switched from @convex-dev/migrations", () => {
  test("the component's table accepts every row shape the peer stores", async () => {
    const t = deployment();
    await writePeerRow(t, { name: "a", cursor: null, isDone: false, processed: 0, latestStart: 1 });
    await writePeerRow(t, { name: "b", cursor: "[1,\"x\"]", isDone: true, processed: 5, latestStart: 1, latestEnd: 2 });
    await writePeerRow(t, { name: "c", cursor: "abc", isDone: false, error: "boom", processed: 3, latestStart: 1 });
    await writePeerRow(t, { name: NAME, cursor: null, isDone: false, processed: 0, latestStart: 1 }, "pending");
    const rows = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, {}));
    expect(rows.map((r) => r.name).sort()).toEqual(["a", "b", "c", NAME].sort());
  });

  test("done: skipped by every runner and shown as success with the peer's count", async () => {
    const t = deployment();
    await seedTodos(t, 30);
    await writePeerRow(t, { name: NAME, cursor: "[1,\"x\"]", isDone: true, processed: 30, latestStart: 1, latestEnd: 2 });
    expect(await status(t)).toMatchObject({ state: "success", isDone: true, processed: 30, cursor: null });
    await t.mutation(internal.counting.run, { fn: NAME });
    await t.run(async (ctx) => {
      const { migrations } = await import("../example/convex/counting");
      await migrations.runOne(ctx, internal.counting.countTodos);
      await migrations.runSerially(ctx, [internal.counting.countTodos]);
    });
    await drain(t);
    expect(await counters(t)).toEqual(Array(30).fill(0));
    expect(await status(t)).toMatchObject({ state: "success", processed: 30 });
  });

  test("in progress with a paginator cursor (0.3.5+): resumes there, each document once", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    expect(cursor.startsWith("[")).toBe(true);
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 });
    expect(await status(t)).toMatchObject({ state: "unknown", processed: 100, cursor });
    const started = await t.mutation(internal.counting.run, { fn: NAME });
    // The first batch ran inline, from the peer's cursor.
    expect(started).toMatchObject({ state: "inProgress", processed: 200 });
    await drain(t);
    expect(await counters(t)).toEqual(Array(250).fill(1));
    expect(await status(t)).toMatchObject({ state: "success", processed: 250 });
  });

  test("in progress with a live peer hop: runOne leaves it running, and the old code's hop carries it on here", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 }, "pending");
    expect(await status(t)).toMatchObject({ state: "inProgress", processed: 100 });
    // runOne sees it running and does nothing; the peer's hop carries it on.
    await t.run(async (ctx) => {
      const { migrations } = await import("../example/convex/counting");
      expect((await migrations.runOne(ctx, internal.counting.countTodos)).state).toBe("inProgress");
    });
    await drain(t);
    expect(await counters(t)).toEqual(Array(250).fill(1));
    expect(await status(t)).toMatchObject({ state: "success", processed: 250 });
  });

  test("in progress with a live peer hop, canceled through the new code: nothing runs twice on resume", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 }, "pending");
    const canceled = await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancel, { name: NAME }));
    expect(canceled).toMatchObject({ state: "canceled", processed: 100 });
    await drain(t); // the peer's hop was stopped with it
    expect(await counters(t)).toEqual([...Array(100).fill(1), ...Array(150).fill(0)]);
    await t.mutation(internal.counting.run, { fn: NAME });
    await drain(t);
    expect(await counters(t)).toEqual(Array(250).fill(1));
  });

  test("in progress with an old .paginate() cursor: shown at its cursor, and a run hands it to .paginate()", async () => {
    const t = deployment();
    await seedTodos(t, 20);
    // Before 0.3.5 the peer saved .paginate()'s opaque cursors. convex-test
    // cannot decode a real deployment's (its own look like JSON arrays), so
    // here the run fails; what it proves is that the cursor went to
    // .paginate() unchanged, nothing was migrated, and the row still holds it.
    const opaque = "u1oU8i23WMATVwA2CneZ";
    await writePeerRow(t, { name: NAME, cursor: opaque, isDone: false, processed: 10, latestStart: 1 });
    expect(await status(t)).toMatchObject({ state: "unknown", processed: 10, cursor: opaque });
    const started = await t.mutation(internal.counting.run, { fn: NAME });
    expect(started).toMatchObject({ state: "failed", cursor: opaque, processed: 10 });
    expect(started.error).toContain(opaque);
    expect(await counters(t)).toEqual(Array(20).fill(0));
  });

  test("in progress with a pending peer hop: starting it here stops that hop, each document once", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 }, "pending");
    const started = await t.run(async (ctx) =>
      ctx.runMutation(components.migrations.lib.migrate, {
        name: NAME,
        fnHandle: await createFunctionHandle(internal.counting.countTodos),
        dryRun: false,
      }),
    );
    expect(started).toMatchObject({ state: "inProgress", processed: 200 });
    expect(await t.run(async (ctx) => await ctx.runMutation(componentFn("peerHops"), {}))).toEqual(["canceled"]);
    await drain(t);
    expect(await counters(t)).toEqual(Array(250).fill(1));
    expect(await status(t)).toMatchObject({ state: "success", processed: 250 });
  });

  test("cancelAll and clearAll reach the peer's rows, stopping its pending hop", async () => {
    const t = deployment();
    await seedTodos(t, 150);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 }, "pending");
    await writePeerRow(t, { name: "done:one", cursor: null, isDone: true, processed: 7, latestStart: 1 });
    const canceled = await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.cancelAll, {}));
    expect(canceled).toEqual([expect.objectContaining({ name: NAME, state: "canceled", processed: 100 })]);
    expect(await t.run(async (ctx) => await ctx.runMutation(componentFn("peerHops"), {}))).toEqual(["canceled"]);
    vi.advanceTimersByTime(1_000); // clearAll takes rows created before now
    await t.run(async (ctx) => await ctx.runMutation(components.migrations.lib.clearAll, {}));
    expect(await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, {}))).toEqual([]);
    await drain(t);
    expect(await counters(t)).toEqual([...Array(100).fill(1), ...Array(50).fill(0)]);
  });

  test("failed: shown failed with the peer's error, and a run retries from its cursor", async () => {
    const t = deployment();
    await seedTodos(t, 120);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, error: "Document failed: boom", processed: 100, latestStart: 1 });
    expect(await status(t)).toMatchObject({ state: "failed", error: "Document failed: boom", processed: 100 });
    await t.mutation(internal.counting.run, { fn: NAME });
    await drain(t);
    expect(await counters(t)).toEqual(Array(120).fill(1));
    expect(await status(t)).toMatchObject({ state: "success", processed: 120 });
  });

  test("canceled: shown canceled, and a run resumes from its cursor", async () => {
    const t = deployment();
    await seedTodos(t, 150);
    const cursor = await peerFirstBatch(t, 100, "paginator");
    await writePeerRow(t, { name: NAME, cursor, isDone: false, processed: 100, latestStart: 1 }, "canceled");
    expect(await status(t)).toMatchObject({ state: "canceled", processed: 100 });
    await t.mutation(internal.counting.run, { fn: NAME });
    await drain(t);
    expect(await counters(t)).toEqual(Array(150).fill(1));
    expect(await status(t)).toMatchObject({ state: "success", processed: 150 });
  });
});
