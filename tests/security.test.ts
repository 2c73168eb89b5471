/**
 * No open doors: every function the component and the client library create
 * is internal (only an admin or deploy key can call it, e.g. `npx convex
 * run`), the component's functions are not part of the app's address space,
 * and the generic runner starts only migrations the app defined. See
 * SECURITY.md. (That the CLI never prints the deploy key is tested in
 * tests/cli/convexRun.test.ts.)
 */
import { convexTest } from "convex-test";
import { register } from "convex-migrate/test";
import { Migrations, defineMigration, defineMigrationSet } from "convex-migrate";
import {
  actionGeneric,
  internalMutationGeneric,
  makeFunctionReference,
  mutationGeneric,
  queryGeneric,
  type FunctionReference,
} from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, describe, expect, expectTypeOf, test, vi } from "vitest";
import { api, components, internal } from "../example/convex/_generated/api";
import type { DataModel } from "../example/convex/_generated/dataModel";
import { internalMutation as triggersMutation } from "../example/convex/functions";
import schema from "../example/convex/schema";
import { modules } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** What Convex's registration functions attach to a registered function. */
type Registered = {
  isRegistered?: boolean;
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
};

function isRegistered(value: unknown): value is Registered {
  const f = value as Registered | null;
  return typeof value === "function" && !!f && (f.isQuery || f.isMutation || f.isAction) === true;
}

/** Exported registered functions of a module object, by export name. */
function registeredExports(module: Record<string, unknown>): [string, Registered][] {
  return Object.entries(module).filter((entry): entry is [string, Registered] => isRegistered(entry[1]));
}

function expectInternal(name: string, fn: Registered) {
  expect({ name, isInternal: fn.isInternal === true, isPublic: fn.isPublic === true }).toEqual({
    name,
    isInternal: true,
    isPublic: false,
  });
}

// ------------------------------------------------------ the app's functions

describe("the functions the library creates in the app are internal", () => {
  test("every registered function of the example app is internal", async () => {
    const appModules = import.meta.glob<Record<string, unknown>>(
      [
        "../example/convex/**/*.ts",
        "!../example/convex/**/*.test.ts",
        "!../example/convex/_generated/**",
        // Evaluating a config outside Convex throws; it defines no functions.
        "!../example/convex/convex.config.ts",
      ],
      { eager: true },
    );
    let seen = 0;
    for (const [path, module] of Object.entries(appModules)) {
      for (const [name, fn] of registeredExports(module)) {
        expectInternal(`${path}:${name}`, fn);
        seen++;
      }
    }
    // define() migrations, runners, and the versioned sets of four modules.
    expect(seen).toBeGreaterThanOrEqual(30);
  });

  test("define, every runner form and every versioned function, with and without a custom builder", () => {
    const set = defineMigrationSet<DataModel>([
      defineMigration<DataModel>({
        id: "20261201_000000_touch_todos",
        description: "touch todos",
        up: { table: "todos", migrateOne: () => ({ done: false }) },
        down: { table: "todos", migrateOne: () => ({ done: undefined }), writeMode: "raw" },
      }),
    ]);
    for (const options of [undefined, { internalMutation: triggersMutation, schema }]) {
      const m = new Migrations<DataModel>(components.migrations, options);
      const migration = m.define({ table: "todos", migrateOne: () => ({ done: true }) });
      const made: Record<string, unknown> = {
        define: migration,
        runner: m.runner(),
        boundRunner: m.runner(internal.counting.countTodos),
        seriesRunner: m.runner([internal.counting.countTodos, internal.counting.padTodos]),
        ...m.versioned(set),
      };
      const fns = registeredExports(made);
      expect(fns.map(([name]) => name).sort()).toEqual(
        [
          "batch",
          "batchRaw",
          "boundRunner",
          "cancel",
          "checkSchema",
          "define",
          "deployedSchema",
          "repair",
          "recordDeploy",
          "runner",
          "seriesRunner",
          "start",
          "status",
        ].sort(),
      );
      for (const [name, fn] of fns) expectInternal(name, fn);
    }
  });

  test("a public builder in place of internalMutation does not type-check", () => {
    // The option's type admits internal builders only; a public one would
    // make every migration callable by any client.
    type Builder = NonNullable<NonNullable<ConstructorParameters<typeof Migrations<DataModel>>[1]>["internalMutation"]>;
    const internalBuilders: Builder[] = [internalMutationGeneric, triggersMutation];
    // @ts-expect-error a public mutation builder is not an internal one
    const publicBuilder: Builder = mutationGeneric;
    expect(internalBuilders).toHaveLength(2);
    expect(publicBuilder).toBeDefined();
  });

  test("the app's public API holds no function at all (checked by tsc)", () => {
    type Leaves<T> =
      T extends FunctionReference<infer _Type, infer _Visibility>
        ? T
        : T extends object
          ? { [K in keyof T]: Leaves<T[K]> }[keyof T]
          : never;
    expectTypeOf<Leaves<typeof api>>().toBeNever();
    expectTypeOf<Leaves<typeof internal>>().not.toBeNever();
  });
});

// ------------------------------------------------------ the component

describe("the component's functions are reachable only from the app", () => {
  const componentModules = import.meta.glob<Record<string, unknown>>(
    ["../convex/**/*.ts", "!../convex/**/*.test.ts", "!../convex/_generated/**", "!../convex/convex.config.ts"],
    { eager: true },
  );

  test("the app sees them as internal references (checked by tsc)", () => {
    type Visibility<T> = T extends FunctionReference<infer _Type, infer V> ? V : never;
    type Leaves<T> =
      T extends FunctionReference<infer _Type, infer _Visibility>
        ? T
        : T extends object
          ? { [K in keyof T]: Leaves<T[K]> }[keyof T]
          : never;
    expectTypeOf<Visibility<Leaves<typeof components.migrations>>>().toEqualTypeOf<"internal">();
  });

  test("the component's own internal functions are internal, and none is an action", () => {
    const all = Object.entries(componentModules).flatMap(([path, module]) =>
      registeredExports(module).map(([name, fn]) => [`${path}:${name}`, fn] as const),
    );
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const [name, fn] of all) expect({ name, isAction: fn.isAction === true }).toEqual({ name, isAction: false });
    // The scheduled hops: only the component itself may schedule them.
    for (const [name, fn] of all.filter(([n]) => n.includes("/worker.ts:"))) expectInternal(name, fn);
  });

  test("no component function is exported by the app, and the app's address space has none of them", async () => {
    const appModules = import.meta.glob<Record<string, unknown>>(
      [
        "../example/convex/**/*.ts",
        "!../example/convex/**/*.test.ts",
        "!../example/convex/_generated/**",
        // Evaluating a config outside Convex throws; it defines no functions.
        "!../example/convex/convex.config.ts",
      ],
      { eager: true },
    );
    const componentFns = new Set(
      Object.values(componentModules).flatMap((m) => registeredExports(m).map(([, fn]) => fn)),
    );
    for (const module of Object.values(appModules)) {
      for (const [name, fn] of registeredExports(module)) expect({ name, component: componentFns.has(fn) }).toEqual({ name, component: false });
    }
    // A caller addressing the deployment by function path reaches the app's
    // modules only: "lib:getStatus" and friends are not there.
    const t = deployment();
    for (const path of ["lib:getStatus", "lib:cancelAll", "versioned:status", "worker:tick"]) {
      await expect(t.query(makeFunctionReference<"query">(path), {})).rejects.toThrow();
    }
    for (const path of ["lib:migrate", "lib:clearAll", "versioned:start", "versioned:cancel"]) {
      await expect(t.mutation(makeFunctionReference<"mutation">(path), {})).rejects.toThrow();
    }
  });
});

// ------------------------------------------------------ the generic runner

/**
 * App functions that are not migrations, in a module of their own next to
 * the example app's. `writeWithoutValidator` is the dangerous kind: it has
 * no argument validator, so any arguments reach its handler.
 */
const notMigrations = {
  writeWithoutValidator: internalMutationGeneric(async (ctx) => {
    await ctx.db.insert("todos", { text: "written by a function that is not a migration" });
    return null;
  }),
  /** Worse: it also answers like a migration describing itself. */
  impersonate: internalMutationGeneric(async (ctx) => {
    await ctx.db.insert("todos", { text: "written by an impersonator" });
    return { table: "todos", batchSize: 10, workers: 1 };
  }),
  withValidator: internalMutationGeneric({
    args: { text: v.string() },
    handler: async (ctx, args) => {
      await ctx.db.insert("todos", { text: args.text });
      return null;
    },
  }),
  publicMutation: mutationGeneric({
    args: {},
    handler: async (ctx) => {
      await ctx.db.insert("todos", { text: "written by a public mutation" });
      return null;
    },
  }),
  aQuery: queryGeneric({ args: {}, handler: async (ctx) => await ctx.db.query("todos").collect() }),
  anAction: actionGeneric({ args: {}, handler: async () => null }),
};

function deployment() {
  const t = convexTest({
    schema,
    modules: { ...modules, "../example/convex/notMigrations.ts": async () => notMigrations },
  });
  register(t);
  return t;
}

/** Everything a refused start must leave untouched: app tables, component rows, scheduled work. */
async function snapshot(t: ReturnType<typeof deployment>) {
  return await t.run(async (ctx) => ({
    todos: await ctx.db.query("todos").collect(),
    writeCounts: await ctx.db.query("writeCounts").collect(),
    scheduled: (await ctx.db.system.query("_scheduled_functions").collect()).length,
    status: await ctx.runQuery(components.migrations.lib.getStatus, {}),
  }));
}

describe("the generic runner starts only migrations the app defined", () => {
  test.each([
    ["a mutation without an argument validator that writes", "notMigrations:writeWithoutValidator"],
    ["a mutation that writes and answers like a migration", "notMigrations:impersonate"],
    ["a mutation with its own argument validator", "notMigrations:withValidator"],
    ["a public mutation", "notMigrations:publicMutation"],
    ["a query", "notMigrations:aQuery"],
    ["an action", "notMigrations:anAction"],
    ["the runner itself", "counting:run"],
    ["a versioned start function", "migrate:start"],
    ["a versioned batch function", "migrate:batch"],
    ["a function that does not exist", "notMigrations:nothingHere"],
  ])("refuses %s and writes nothing", async (_case, fn) => {
    const t = deployment();
    await t.run(async (ctx) => {
      await ctx.db.insert("todos", { text: "before" });
    });
    const before = await snapshot(t);
    await expect(t.mutation(internal.counting.run, { fn })).rejects.toThrow(
      new RegExp(`${fn}.*(is not a migration|No function named)|No function named ${fn}`),
    );
    await expect(t.mutation(internal.counting.run, { fn, dryRun: true })).rejects.toThrow();
    expect(await snapshot(t)).toEqual(before);
  });

  test("a migration the app defined still runs (control)", async () => {
    const t = deployment();
    await t.run(async (ctx) => {
      await ctx.db.insert("todos", { text: "before" });
    });
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const { todos } = await snapshot(t);
    expect(todos.map((d) => d.counter)).toEqual([1]);
  });
});
