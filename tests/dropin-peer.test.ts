/**
 * What @convex-dev/migrations' own tests and its example app pin down, checked
 * on the example app: the first batch inline, series that respect a running
 * member, hand-written peer-protocol mutations, the peer's error words, the
 * exported surface, and the types real `migrations.ts` files rely on.
 */
import { convexTest } from "convex-test";
import { register } from "convex-migrate/test";
import {
  DEFAULT_BATCH_SIZE,
  Migrations,
  getFunctionMetadata,
  getTransactionMetrics,
  isNewFormatCursor,
  migrationArgs,
  migrationStatus,
  runToCompletion,
  type MigrationArgs,
  type MigrationFunctionHandle,
  type MigrationResult,
  type MigrationStatus,
} from "convex-migrate";
import {
  actionGeneric,
  createFunctionHandle,
  getFunctionName,
  internalMutationGeneric,
  makeFunctionReference,
} from "convex/server";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import type { DataModel, Doc, Id } from "../example/convex/_generated/dataModel";
import type { MutationCtx } from "../example/convex/_generated/server";
import schema from "../example/convex/schema";
import { drain, modules, seedTodos, todos } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Inferred from the schema alone, as the peer's `Migrations<DM, Schema>` does. */
const inferred = new Migrations(components.migrations, { schema });

/** As public apps write it: a prefix for names, and migrateOne declared on its own with the app's types. */
const withPrefix = new Migrations<DataModel>(components.migrations, { migrationsLocationPrefix: "peerStyle:" });
async function bumpTodo(ctx: MutationCtx, doc: Doc<"todos">) {
  await ctx.db.patch(doc._id, { counter: (doc.counter ?? 0) + 1 });
}
type TodoMigration = ReturnType<typeof withPrefix.define<"todos">>;
const bumpElsewhere: TodoMigration = withPrefix.define({ table: "todos", migrateOne: bumpTodo });

/** App functions written against the peer's API, in a module beside the example app's. */
const peerStyle = {
  /** A hand-written migration speaking the peer's batch protocol, with its own default size of 4. */
  handWritten: internalMutationGeneric({
    args: migrationArgs,
    handler: async (ctx, args): Promise<MigrationResult> => {
      const page = await ctx.db.query("todos").paginate({ cursor: args.cursor ?? null, numItems: args.batchSize ?? 4 });
      for (const doc of page.page) await ctx.db.patch(doc._id, { counter: ((doc.counter as number) ?? 0) + 1 });
      const result = { continueCursor: page.continueCursor, isDone: page.isDone, processed: page.page.length };
      // The peer's dry-run contract: throw the result to roll the batch back.
      if (args.dryRun) throw new ConvexError({ kind: "DRY RUN", result });
      return result;
    },
  }),
  /** The same, but it ignores dryRun and keeps its writes. */
  ignoresDryRun: internalMutationGeneric({
    args: migrationArgs,
    handler: async (ctx): Promise<MigrationResult> => {
      const doc = await ctx.db.query("todos").first();
      if (doc) await ctx.db.patch(doc._id, { counter: 99 });
      return { continueCursor: "", isDone: true, processed: 1 };
    },
  }),
  bumpElsewhere,
  /** The same declared migrateOne through the schema-inferred instance. */
  bumpInferred: inferred.define({ table: "todos", migrateOne: bumpTodo }),
  run: withPrefix.runner(),
  whoAmI: internalMutationGeneric({
    args: {},
    handler: async () => ({ meta: await getFunctionMetadata(), metrics: await getTransactionMetrics() }),
  }),
  /** Types only a schema-inferred `Migrations` gives: `doc._id` is an `Id<"todos">`, fields are typed. */
  typedTouch: inferred.define({
    table: "todos",
    migrateOne: async (ctx, doc) => {
      const id: Id<"todos"> = doc._id;
      const priority: string | undefined = doc.priority;
      // @ts-expect-error todos have no such field: the document type is the schema's, not a record.
      void doc.notAField;
      await ctx.db.patch(id, { counter: (doc.counter ?? 0) + 1, ...(priority ? {} : {}) });
    },
  }),
  /** runOne from an action, as the peer's signature allows. */
  startFromAction: actionGeneric({
    args: {},
    handler: async (ctx): Promise<MigrationStatus> =>
      await inferred.runOne(ctx, makeFunctionReference<"mutation", MigrationArgs>("peerStyle:typedTouch") as never),
  }),
};

function deployment(transactionLimits?: Record<string, number>) {
  const t = convexTest({
    schema,
    modules: { ...modules, "../example/convex/peerStyle.ts": async () => peerStyle },
    ...(transactionLimits ? { transactionLimits } : {}),
  });
  register(t);
  return t;
}
type T = ReturnType<typeof deployment>;

async function status(t: T, name: string) {
  const [row] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
  return row!;
}

const counters = async (t: T) => (await todos(t as never)).map((d) => d.counter ?? 0);

describe("the first batch runs inside the starting mutation", () => {
  test("runOne returns the first batch's processed; later batches are scheduled", async () => {
    const t = deployment();
    await seedTodos(t as never, 250);
    const first = await t.run(async (ctx) => {
      const { migrations } = await import("../example/convex/counting");
      return await migrations.runOne(ctx, internal.counting.countTodos, { batchSize: 100 });
    });
    expect(first).toMatchObject({ state: "inProgress", processed: 100, batches: 1 });
    expect((await counters(t)).filter((c) => c === 1)).toHaveLength(100);
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(250).fill(1));
  });

  test("lib:migrate called directly does the same", async () => {
    const t = deployment();
    await seedTodos(t as never, 30);
    const first = await t.run(async (ctx) =>
      ctx.runMutation(components.migrations.lib.migrate, {
        name: "counting:countTodos",
        fnHandle: await createFunctionHandle(internal.counting.countTodos),
        batchSize: 10,
        dryRun: false,
      }),
    );
    expect(first).toMatchObject({ state: "inProgress", processed: 10 });
  });
});

describe("series", () => {
  test("runSerially does nothing, and returns its status, when a later migration in the list is running", async () => {
    const t = deployment();
    await seedTodos(t as never, 300);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos", batchSize: 100 });
    const answer = await t.run(async (ctx) => {
      const { migrations } = await import("../example/convex/counting");
      return await migrations.runSerially(ctx, [internal.counting.countUnlessPoison, internal.counting.countTodos]);
    });
    expect(answer).toMatchObject({ name: "counting:countTodos", state: "inProgress" });
    // countUnlessPoison, first in the list, was never started.
    expect(await status(t, "counting:countUnlessPoison")).toMatchObject({ state: "unknown", processed: 0 });
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(300).fill(1));
  });
});

describe("a hand-written mutation speaking the peer's batch protocol", () => {
  test("runs with fixed batches at its own default size, and the status shows no size it did not get", async () => {
    const t = deployment();
    await seedTodos(t as never, 10);
    const first = await t.mutation(internal.counting.run, { fn: "peerStyle:handWritten" });
    expect(first).toMatchObject({ state: "inProgress", processed: 4 });
    expect(first.batchSize).toBeUndefined();
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(10).fill(1));
    expect(await status(t, "peerStyle:handWritten")).toMatchObject({ state: "success", processed: 10, batches: 3 });
  });

  test("a limit hit at its own size halves what it ran: the engine sends 2, then every batch commits", async () => {
    // Its first batch of 4 writes little; each later todo writes 20 KB, so
    // 4 of them are over what a batch may write under a 100 KB limit, 2 are not.
    const t = deployment({ bytesWritten: 100_000 });
    for (let i = 0; i < 10; i++) {
      // One per transaction: together they are over the limit.
      await t.run(async (ctx) => void (await ctx.db.insert("todos", { text: i < 4 ? `todo ${i}` : "x".repeat(20_000) })));
    }
    const first = await t.mutation(internal.counting.run, { fn: "peerStyle:handWritten" });
    expect(first).toMatchObject({ state: "inProgress", processed: 4 });
    expect(first.batchSize).toBeUndefined();
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(10).fill(1));
    // 4, then the rest in 2s: the size the engine now sends, which status shows.
    expect(await status(t, "peerStyle:handWritten")).toMatchObject({ state: "success", processed: 10, batches: 4, batchSize: 2 });
  });

  test("a batch size given is passed to it and never grown", async () => {
    const t = deployment();
    await seedTodos(t as never, 10);
    await t.mutation(internal.counting.run, { fn: "peerStyle:handWritten", batchSize: 3 });
    await drain(t as never);
    expect(await status(t, "peerStyle:handWritten")).toMatchObject({ state: "success", processed: 10, batches: 4, batchSize: 3 });
  });

  test("a dry run reports its batch and keeps nothing", async () => {
    const t = deployment();
    await seedTodos(t as never, 10);
    const dry = await t.mutation(internal.counting.run, { fn: "peerStyle:handWritten", dryRun: true });
    expect(dry).toMatchObject({ dryRun: { processed: 4 } });
    expect(await counters(t)).toEqual(Array(10).fill(0));
  });

  test("may follow in a series: the start proves it with a batch that keeps nothing, and it runs in its turn", async () => {
    const t = deployment();
    await seedTodos(t as never, 3);
    const first = await t.mutation(internal.counting.run, {
      fn: "counting:countTodos",
      batchSize: 10,
      next: ["peerStyle:ignoresDryRun"],
    });
    expect(first).toMatchObject({ state: "success", processed: 3 });
    // The proof ran it once (it writes 99 even when dry) and rolled it back.
    expect(await counters(t)).toEqual([1, 1, 1]);
    await drain(t as never);
    expect(await status(t, "peerStyle:ignoresDryRun")).toMatchObject({ state: "success", processed: 1 });
    expect(await counters(t)).toEqual([99, 1, 1]);
  });

  test("one that ignores dryRun is refused, and its writes roll back", async () => {
    const t = deployment();
    await seedTodos(t as never, 3);
    await expect(t.mutation(internal.counting.run, { fn: "peerStyle:ignoresDryRun", dryRun: true })).rejects.toThrow(
      /did not roll back.*DRY RUN/,
    );
    expect(await counters(t)).toEqual(Array(3).fill(0));
  });
});

describe("errors keep the peer's words", () => {
  const start = (t: T, fnHandle: string, batchSize?: number) =>
    t.run(async (ctx) =>
      ctx.runMutation(components.migrations.lib.migrate, {
        name: "x",
        fnHandle,
        ...(batchSize !== undefined ? { batchSize } : {}),
        dryRun: false,
      }),
    );

  test("a batch size of 0 says 'Batch size must be greater than 0', then how to fix it", async () => {
    const t = deployment();
    const handle = await t.run(async () => await createFunctionHandle(internal.counting.countTodos));
    await expect(start(t, handle, 0)).rejects.toThrow(/Batch size must be greater than 0.*Pass a whole number such as 100/);
  });

  test("a bad handle says 'Invalid fnHandle', then how to start a migration", async () => {
    const t = deployment();
    await expect(start(t, "counting:countTodos")).rejects.toThrow(/Invalid fnHandle.*migrations\.runner\(\)/);
  });
});

describe("the peer's exports, name for name", () => {
  test("constants, cursor format, validators", () => {
    expect(DEFAULT_BATCH_SIZE).toBe(100);
    expect(isNewFormatCursor(null)).toBe(true);
    expect(isNewFormatCursor('[1719412234000,"k97d5ycbj3vgwcprmmxvmrm2dh7a5qhv"]')).toBe(true);
    expect(isNewFormatCursor("u1oU8i23WMATVwA2CneZ")).toBe(false);
    expect(Object.keys(migrationArgs).sort()).toEqual(["batchSize", "cursor", "dryRun", "fn", "next", "oneBatchOnly", "reset"]);
    expect(migrationStatus.kind).toBe("object");
  });

  test("getFunctionMetadata and getTransactionMetrics answer inside a function", async () => {
    const t = deployment();
    const { meta, metrics } = await t.mutation(
      makeFunctionReference<"mutation", Record<string, never>, { meta: { name: string }; metrics: { documentsRead: { used: number } } }>(
        "peerStyle:whoAmI",
      ),
      {},
    );
    expect(meta.name).toBe("peerStyle:whoAmI");
    expect(metrics.documentsRead.used).toBe(0);
  });

  test("runToCompletion takes a function handle with its name, as the peer's example does", async () => {
    const t = deployment();
    await seedTodos(t as never, 10);
    const done = await t.run(async (ctx) => {
      const handle = (await createFunctionHandle(internal.counting.countTodos)) as unknown as MigrationFunctionHandle;
      return await runToCompletion(ctx, components.migrations, handle, {
        name: getFunctionName(internal.counting.countTodos),
        batchSize: 2,
      });
    });
    expect(done).toMatchObject({ name: "counting:countTodos", isDone: true, processed: 10 });
    expect(await counters(t)).toEqual(Array(10).fill(1));
  });

  test("runToCompletion rejects with the failing migration's own message", async () => {
    const t = deployment();
    await seedTodos(t as never, 10, (i) => ({ text: i === 3 ? "poison" : `todo ${i}` }));
    await expect(
      t.run(async (ctx) => await runToCompletion(ctx, components.migrations, internal.counting.countUnlessPoison)),
    ).rejects.toThrow('cannot migrate todo "poison"');
  });
});

describe("types real migrations.ts files rely on", () => {
  test("a schema-inferred Migrations types documents from the schema", async () => {
    const t = deployment();
    await seedTodos(t as never, 5);
    await t.mutation(internal.counting.run, { fn: "peerStyle:typedTouch" });
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(5).fill(1));
  });

  test("one batch of a define()d function reads as the peer's MigrationResult", async () => {
    const t = deployment();
    await seedTodos(t as never, 5);
    const r: { continueCursor: string; isDone: boolean; processed: number } = await t.mutation(internal.counting.countTodos, {
      cursor: null,
      batchSize: 2,
      dryRun: false,
      oneBatchOnly: true,
    });
    expect(r).toMatchObject({ processed: 2, isDone: false });
  });

  test("migrationsLocationPrefix and a migrateOne declared elsewhere with the app's own ctx and Doc types", async () => {
    const t = deployment();
    await seedTodos(t as never, 4);
    await t.mutation(makeFunctionReference<"mutation", MigrationArgs>("peerStyle:run"), { fn: "bumpElsewhere" });
    await t.mutation(makeFunctionReference<"mutation", MigrationArgs>("peerStyle:run"), { fn: "bumpInferred" });
    await drain(t as never);
    expect(await counters(t)).toEqual(Array(4).fill(2));
    expect(await status(t, "peerStyle:bumpElsewhere")).toMatchObject({ state: "success", processed: 4 });
  });

  test("runOne takes an action's ctx", async () => {
    const t = deployment();
    await seedTodos(t as never, 5);
    const first = await t.action(makeFunctionReference<"action", Record<string, never>, MigrationStatus>("peerStyle:startFromAction"), {});
    expect(first).toMatchObject({ name: "peerStyle:typedTouch", processed: 5, state: "success" });
  });
});
