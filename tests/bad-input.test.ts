/**
 * Bad input across the drop-in API, the versioned API and its manifest:
 * each case must fail with an error that names the problem and the fix, and
 * leave every table as it was (the app's, the component's, and both
 * schedulers'). A few inputs can only be judged by running a batch (what
 * `migrateOne` returns, a cursor Convex cannot parse): those roll the batch
 * back, so the app's tables are untouched, and the component records exactly
 * one failed attempt that says what to do.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createFunctionHandle, internalMutationGeneric, makeFunctionReference, mutationGeneric } from "convex/server";
import { Migrations } from "convex-migrate";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { manifestDefs } from "../js-shim/src/client/versioned";
import { EXIT } from "../js-shim/src/cli/errors";
import type { Io } from "../js-shim/src/cli/io";
import { runCli } from "../js-shim/src/cli/program";
import { TransportError } from "../js-shim/src/cli/transport/types";
import { components, internal } from "../example/convex/_generated/api";
import type { DataModel } from "../example/convex/_generated/dataModel";
import { countTodos as faultsCountTodos, manifest as faultsManifest } from "../example/convex/faults";
import { deployment, drain, seedTodos, type Deployment } from "./harness";

const FAULTS_MIGRATIONS = [...faultsManifest.migrations];

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  // Undo any simulated deploy of an edited manifest.
  faultsManifest.migrations.splice(0, faultsManifest.migrations.length, ...FAULTS_MIGRATIONS);
});

// ---------------------------------------------------------------- helpers

type Ctx = {
  db: {
    query: (table: string) => { collect: () => Promise<unknown[]> };
    system: { query: (table: "_scheduled_functions") => { collect: () => Promise<unknown[]> } };
  };
};

const APP_TABLES = ["myTable", "todos", "users", "notes", "notesV2", "sessions", "sessionsBackup", "writeCounts"];
const COMPONENT_TABLES = ["migrations", "workers", "versions", "runs"];

async function tables(ctx: Ctx, names: string[]) {
  const out: Record<string, unknown[]> = {};
  for (const name of names) out[name] = await ctx.db.query(name).collect();
  out._scheduled_functions = await ctx.db.system.query("_scheduled_functions").collect();
  return out;
}

/** Every document of the app and of the component, scheduled functions included. */
async function snapshot(t: Deployment) {
  const runInComponent = (t as unknown as { runInComponent: (p: string, f: (ctx: Ctx) => Promise<unknown>) => Promise<unknown> })
    .runInComponent;
  return {
    app: await t.run(async (ctx) => await tables(ctx as unknown as Ctx, APP_TABLES)),
    component: await runInComponent("migrations", async (ctx) => await tables(ctx, COMPONENT_TABLES)),
  };
}

/**
 * A deployment with history: todos, a completed drop-in migration and a
 * completed versioned run (of the example's manifest, or of the faults one),
 * so "nothing written" is checked against non-empty component tables.
 */
async function deploymentWithHistory(versioned: "example" | "faults" = "example") {
  const t = deployment();
  await seedTodos(t, 12);
  await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
  if (versioned === "example") await t.mutation(internal.migrate.start, { steps: 1 });
  else await t.mutation(internal.faults.start, {});
  await drain(t);
  return t;
}

/** Expect `attempt` to reject with every pattern, and to leave every table as it was. */
async function refused(t: Deployment, attempt: () => Promise<unknown>, ...patterns: RegExp[]) {
  const before = await snapshot(t);
  const error = await attempt().then(
    () => expect.fail("expected a refusal"),
    (e: unknown) => e,
  );
  // A ConvexError carries its sentence in data.message (its own message is that data as JSON).
  const data = (error as { data?: { message?: unknown } }).data;
  const message = typeof data?.message === "string" ? data.message : error instanceof Error ? error.message : String(error);
  for (const pattern of patterns) expect(message).toMatch(pattern);
  await drain(t);
  expect(await snapshot(t)).toEqual(before);
}

const runDropIn = (t: Deployment, args: Record<string, unknown>) => t.mutation(internal.counting.run, args as never);
const runFaults = (t: Deployment, args: Record<string, unknown>) => t.mutation(internal.faults.run, args as never);
const startExample = (t: Deployment, args: Record<string, unknown>) => t.mutation(internal.migrate.start, args as never);
const startFaults = (t: Deployment, args: Record<string, unknown> = {}) => t.mutation(internal.faults.start, args as never);

/** Simulate deploying the faults manifest with `edit` applied to its migrations. */
function deployFaultsManifest(edit: (migrations: typeof FAULTS_MIGRATIONS) => typeof FAULTS_MIGRATIONS) {
  faultsManifest.migrations.splice(0, faultsManifest.migrations.length, ...edit([...FAULTS_MIGRATIONS]));
}
const withId = (id: string) => ({ ...faultsCountTodos, id });

// ---------------------------------------------------------------- drop-in API

describe("drop-in API: refused before anything is written", () => {
  test.each([
    ["zero", 0],
    ["negative", -5],
    ["fractional", 2.5],
    ["huge", 1e9],
  ])("batch size %s", async (_name, batchSize) => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => runDropIn(t, { fn: "counting:countTodos", reset: true, batchSize }),
      new RegExp(`batch size must be a whole number from 1 to \\d+, got ${batchSize}`),
      /Pass a whole number such as 100/,
    );
  });

  test.each([
    ["a dry run, batch size -1", { dryRun: true, batchSize: -1 }, "-1"],
    ["a dry run, batch size 0", { dryRun: true, batchSize: 0 }, "0"],
    ["a dry run, batch size 1e9", { dryRun: true, batchSize: 1e9 }, "1000000000"],
    ["a completed migration, batch size 0", { batchSize: 0 }, "0"],
    ["a completed migration, batch size 2.5", { batchSize: 2.5 }, "2\\.5"],
  ] as [string, Record<string, unknown>, string][])("%s", async (_name, args, shown) => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => runDropIn(t, { fn: "counting:countTodos", ...args }),
      new RegExp(`batch size must be a whole number from 1 to \\d+, got ${shown}`),
      /Pass a whole number such as 100/,
    );
  });


  test("a customRange that returns a query on another table", async () => {
    const t = await deploymentWithHistory();
    await t.run(async (ctx) => ctx.db.insert("users", { name: "Ada" }));
    await refused(
      t,
      () => runFaults(t, { fn: "faults:countUsersAsTodos" }),
      /customRange must return a query on todos; it returned one on users/,
      /Start it from the query it is given/,
    );
  });

  test.each([
    ["an ordinary mutation", "faults:plainMutation", /faults:plainMutation \(listed in next of counting:countTodos\) is not a migration/],
    ["an unknown function", "faults:noSuchFunction", /faults:noSuchFunction/],
  ])("a next entry that is %s refuses the whole series", async (_name, next, pattern) => {
    const t = await deploymentWithHistory();
    await refused(t, () => runDropIn(t, { fn: "counting:countTodos", reset: true, next: [next] }), pattern, /migrations\.define\(\)|No function named/);
  });
  test("an unknown function name", async () => {
    const t = await deploymentWithHistory();
    await refused(t, () => runDropIn(t, { fn: "counting:nope" }), /counting:nope/, /not a migration|No function named/, /migrations:/);
  });

  test.each([
    ["the runner itself", "counting:run"],
    ["a versioned start function", "migrate:start"],
  ])("a function that is not a migration: %s", async (_name, fn) => {
    const t = await deploymentWithHistory();
    await refused(t, () => runDropIn(t, { fn }), new RegExp(`${fn} is not a migration`), /Name a function exported from migrations\.define\(\)/);
  });

  test("the generic runner with no migration named", async () => {
    const t = await deploymentWithHistory();
    await refused(t, () => runDropIn(t, {}), /Name the migration to run/, /"fn": "migrations:myMigration"/);
  });

  test("a bound runner given fn as well", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => t.mutation(internal.dropIn.runIt, { fn: "dropIn:clearField" }),
      /bound to a migration already/,
      /leave out fn, or use a generic runner\(\)/,
    );
  });

  test("a migration called directly with fn naming another", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => t.mutation(internal.counting.countTodos, { fn: "counting:padTodos" }),
      /This is counting:countTodos, but fn names counting:padTodos/,
      /call counting:countTodos directly/,
    );
  });

  test("a migration over a table the schema does not define", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => runFaults(t, { fn: "faults:countNoSuchTable" }),
      /Migration faults:countNoSuchTable names table "noSuchTable", which the schema does not define/,
      /it has myTable, todos/,
      /Fix the migration's table/,
    );
  });

  test("a cursor copied from another migration's status", async () => {
    const t = deployment();
    await seedTodos(t, 30, () => ({ done: true }));
    await runDropIn(t, { fn: "counting:countTodosByDone" });
    vi.runOnlyPendingTimers();
    await t.finishInProgressScheduledFunctions();
    const [other] = await t.run(async (ctx) =>
      ctx.runQuery(components.migrations.lib.getStatus, { names: ["counting:countTodosByDone"] }),
    );
    expect(other!.cursor).toEqual(expect.any(String));
    await t.run(async (ctx) => ctx.runMutation(components.migrations.lib.cancel, { name: "counting:countTodosByDone" }));
    await refused(
      t,
      () => runDropIn(t, { fn: "counting:countTodos", cursor: other!.cursor }),
      /The cursor passed to counting:countTodos is the saved position of counting:countTodosByDone/,
      /Pass counting:countTodos's own cursor from getStatus.*reset: true/,
    );
  });

  test("canceling a migration that never ran", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => t.run(async (ctx) => ctx.runMutation(components.migrations.lib.cancel, { name: "counting:neverRan" })),
      /No migration named counting:neverRan has run/,
      /Check the name with getStatus/,
    );
  });

  test("the component called directly with something that is not a function handle", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () =>
        t.run(async (ctx) =>
          ctx.runMutation(components.migrations.lib.migrate, { name: "x", fnHandle: "counting:countTodos", dryRun: false }),
        ),
      /Invalid function handle/,
      /migrations\.runner\(\).*convex-migrate CLI/,
    );
  });
});

describe("drop-in API: refused at the first batch, the app's data untouched", () => {
  /** The app's tables are unchanged and the component holds one failed attempt naming the fix. */
  async function failsCleanly(t: Deployment, run: () => Promise<unknown>, name: string, ...patterns: RegExp[]) {
    const before = await snapshot(t);
    await run();
    await drain(t);
    const after = await snapshot(t);
    expect(after.app).toEqual(before.app);
    const [row] = await t.run(async (ctx) => ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
    expect(row).toMatchObject({ state: "failed", processed: 0, isDone: false });
    for (const pattern of patterns) expect(row!.error).toMatch(pattern);
  }

  test("migrateOne returns a number instead of a patch", async () => {
    const t = await deploymentWithHistory();
    await failsCleanly(
      t,
      () => runFaults(t, { fn: "faults:returnNumber" }),
      "faults:returnNumber",
      /migrateOne must return a patch object or nothing, but returned number/,
      /Return e\.g\. \{ field: value \}/,
    );
    const [row] = await t.run(async (ctx) => ctx.runQuery(components.migrations.lib.getStatus, { names: ["faults:returnNumber"] }));
    expect(row!.failedDocumentId).toEqual(expect.any(String));
  });

  test.each([
    ["_id", "faults:setId"],
    ["_creationTime", "faults:setCreationTime"],
  ])("migrateOne's patch sets %s", async (field, fn) => {
    const t = await deploymentWithHistory();
    await failsCleanly(
      t,
      () => runFaults(t, { fn }),
      fn,
      new RegExp(`sets the system field ${field}, which cannot change`),
      /Remove it from the patch/,
    );
  });


  test("a cursor from another table", async () => {
    const t = await deploymentWithHistory();
    // A page of users, read after every todo was written: its cursor sorts after every todo.
    const cursor = await t.run(async (ctx) => {
      await ctx.db.insert("users", { name: "Ada" });
      await ctx.db.insert("users", { name: "Grace" });
      return (await ctx.db.query("users").paginate({ numItems: 1, cursor: null })).continueCursor;
    });
    await failsCleanly(
      t,
      () => runDropIn(t, { fn: "counting:padTodos", cursor }),
      "counting:padTodos",
      /saved cursor does not fit table todos/,
      /Pass reset: true to start over/,
    );
  });

  test("a patch that moves documents within the index customRange walks", async () => {
    // Todos without `done` sort first in by_done; the patch moves each to `done: false`, further along.
    const t = deployment();
    await seedTodos(t, 12);
    await failsCleanly(
      t,
      () => runFaults(t, { fn: "faults:moveAlongWalkedIndex" }),
      "faults:moveAlongWalkedIndex",
      /migrateOne changed done of index by_done on todos, which customRange walks/,
      /would be visited again/,
      /Walk the table without customRange/,
    );
  });

  test("a cursor of the same table from another index", async () => {
    const t = await deploymentWithHistory();
    const cursor = await t.run(
      async (ctx) => (await ctx.db.query("todos").withIndex("by_done").paginate({ numItems: 2, cursor: null })).continueCursor,
    );
    await failsCleanly(
      t,
      () => runDropIn(t, { fn: "counting:padTodos", cursor }),
      "counting:padTodos",
      /saved cursor does not fit table todos and its range/,
      /Pass reset: true to start over/,
    );
  });
  test("a malformed cursor", async () => {
    const t = await deploymentWithHistory();
    await failsCleanly(
      t,
      () => runDropIn(t, { fn: "counting:padTodos", cursor: "not-a-cursor" }),
      "counting:padTodos",
      /saved cursor does not fit table todos/,
      /Pass reset: true to start over/,
    );
  });
});

describe("drop-in API: a public builder passed as internalMutation", () => {
  // The types ask for an internal builder; a cast (or plain JavaScript) gets past them.
  const publicMigrations = () =>
    new Migrations<DataModel>(components.migrations, { internalMutation: mutationGeneric as never });

  test("define() refuses it, so the app never deploys a public migration", () => {
    expect(() =>
      publicMigrations().define({ table: "todos", migrateOne: () => ({ counter: 1 }) }),
    ).toThrow(/made a public mutation, so any client could run migrations\. Pass an internal builder/);
  });

  test("versioned() refuses it for the batch function", () => {
    expect(() => publicMigrations().versioned(faultsManifest)).toThrow(/made a public mutation/);
  });

  test("the internal builders are accepted", () => {
    const fn = new Migrations<DataModel>(components.migrations, { internalMutation: internalMutationGeneric }).define({
      table: "todos",
      migrateOne: () => undefined,
    });
    expect((fn as unknown as { isInternal: boolean }).isInternal).toBe(true);
  });
});

// ---------------------------------------------------------------- versioned API

describe("versioned API: refused before anything is written", () => {
  test.each([
    ["steps and to together", { direction: "down", steps: 1, to: "20261101_090000_backfill_todo_done" }, [/either steps or to, not both/, /Pass exactly one of --steps N or --to ID/]],
    ["down with neither steps nor to", { direction: "down" }, [/down needs steps or to/, /Pass exactly one of --steps N or --to ID/]],
    ["steps 0", { direction: "down", steps: 0 }, [/steps must be a whole number of at least 1, got 0/, /Pass --steps 1 or more/]],
    ["negative steps", { steps: -1 }, [/steps must be a whole number of at least 1, got -1/, /Pass --steps 1 or more/]],
    ["--to an unknown id", { direction: "down", to: "20990101_000000_unknown" }, [/no migration has id "20990101_000000_unknown"/, /Pass an id listed by `convex-migrate status`/]],
    ["batch size 0", { batchSize: 0 }, [/batch size must be a whole number from 1 to \d+, got 0/, /Pass a whole number such as 100/]],
    ["fractional batch size", { batchSize: 2.5 }, [/batch size must be a whole number from 1 to \d+, got 2\.5/, /Pass a whole number/]],
    ["a dry run with batch size -1", { dryRun: true, batchSize: -1 }, [/batch size must be a whole number from 1 to \d+, got -1/, /Pass a whole number such as 100/]],
    ["down with steps 1.5", { direction: "down", steps: 1.5 }, [/steps must be a whole number of at least 1, got 1\.5/, /Pass --steps 1 or more/]],
    ["down with steps NaN", { direction: "down", steps: NaN }, [/steps must be a whole number of at least 1, got NaN/, /Pass --steps 1 or more/]],
    // Convex's own argument validation; a deployment words these a little differently.
    ["an unknown direction", { direction: "sideways" }, [/"sideways"/]],
    ["an unknown option (a typo of steps)", { step: 1 }, [/field `step`/]],
  ] as [string, Record<string, unknown>, RegExp[]][])("%s", async (_name, args, patterns) => {
    const t = await deploymentWithHistory();
    await refused(t, () => startExample(t, args), ...patterns);
  });

  test("down over a migration without a down step", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => startExample(t, { direction: "down", steps: 1 }),
      /migration "20261101_090000_backfill_todo_done" has no down step/,
      /Add a `down` step to the migration and deploy it, or roll back fewer migrations/,
    );
  });

  test("canceling a run id that does not exist", async () => {
    const t = await deploymentWithHistory();
    await refused(
      t,
      () => t.mutation(internal.migrate.cancel, { runId: "not-a-run" }),
      /No run has id not-a-run/,
      /Leave out --run-id to cancel the active run/,
    );
  });

  test("calling the versioned batch function outside a run", async () => {
    const t = await deploymentWithHistory();
    await refused(t, () => t.mutation(internal.migrate.batch, {}), /runs only when a versioned run calls it/, /Use `start`/);
  });
});

describe("manifest: a bad deployed manifest is refused before anything is written", () => {
  test.each([
    ["a malformed id", () => [withId("2026-12-01 count todos")], [/migration id "2026-12-01 count todos" is malformed/, /YYYYMMDD_HHMMSS_slug/]],
    ["a duplicate id", () => [faultsCountTodos, faultsCountTodos], [/"20261201_090000_count_todos" appears more than once/, /Give each migration its own id/]],
    ["an empty table name", () => [{ ...faultsCountTodos, up: { ...faultsCountTodos.up, table: "" } }], [/empty table name/, /Set `table` to the name of the table/]],
    ["a table the schema does not define", () => [{ ...faultsCountTodos, up: { ...faultsCountTodos.up, table: "noSuchTable" } }], [/names table "noSuchTable", which the schema does not define/, /Fix the migration's table/]],
  ] as [string, () => typeof FAULTS_MIGRATIONS, RegExp[]][])("%s", async (_name, migrations, patterns) => {
    const t = await deploymentWithHistory("faults");
    deployFaultsManifest(() => migrations());
    await refused(t, () => startFaults(t), ...patterns);
  });

  test("a manifest naming a migration the deployed code does not have", async () => {
    const t = await deploymentWithHistory("faults");
    const defs = manifestDefs(faultsManifest as never);
    defs.push({ ...defs[0]!, id: "20261231_090000_not_deployed" });
    await refused(
      t,
      () =>
        t.run(async (ctx) =>
          ctx.runMutation(components.migrations.versioned.start, {
            manifest: defs,
            batchHandle: await createFunctionHandle(internal.faults.batch),
            steps: 2,
          } as never),
        ),
      /deployed manifest has no up step for migration 20261231_090000_not_deployed/,
      /Deploy the code that defines it/,
    );
  });
});

// ---------------------------------------------------------------- CLI

describe("CLI: usage errors exit 2, say what to do, and write nothing", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-migrate-bad-input-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Run the CLI in `dir` against the deployment; return its exit code and output. */
  async function cli(t: Deployment, argv: string[], config?: Record<string, unknown>) {
    if (config) fs.writeFileSync(path.join(dir, "convex-migrate.json"), JSON.stringify(config));
    let stdout = "";
    let stderr = "";
    const io: Io = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      cwd: dir,
      transport: {
        // As `npx convex run` reports it: the message, and a ConvexError's payload.
        run: (fn, args, kind) =>
          (kind === "query"
            ? t.query(makeFunctionReference<"query">(fn), args as never)
            : t.mutation(makeFunctionReference<"mutation">(fn), args as never)
          ).catch((error: { message?: string; data?: { message?: string } }) => {
            throw new TransportError(error.data?.message ?? String(error.message), error.data);
          }),
        deploy: () => Promise.reject(new Error("no deploys in this test")),
      },
    };
    const before = await snapshot(t);
    const exitCode = await runCli(argv, io);
    await drain(t);
    expect(await snapshot(t)).toEqual(before);
    return { exitCode, stdout, stderr };
  }

  test.each([
    ["an unknown config key", ["up"], { batchsize: 50 }, [/Unknown key "batchsize" in convex-migrate\.json/, /Known keys: .*batchSize/]],
    ["a config value of the wrong type", ["up"], { strict: "yes" }, [/"strict" in convex-migrate\.json must be true or false/]],
    ["an unknown flag", ["up", "--stepz", "1"], undefined, [/unknown option '--stepz'/, /convex-migrate <command> --help/]],
    ["down with both --steps and --to", ["down", "--steps", "1", "--to", "20261101_090000_backfill_todo_done"], undefined, [/exactly one of --steps N or --to ID/]],
    ["down with neither", ["down"], undefined, [/exactly one of --steps N or --to ID/, /convex-migrate down --steps 1/]],
    ["--steps 0", ["down", "--steps", "0"], undefined, [/--steps must be a whole number above 0, not "0"/]],
    ["--batch-size that is not a number", ["up", "--batch-size", "lots"], undefined, [/--batch-size must be a whole number above 0, not "lots"/]],
    ["--timeout without a unit", ["up", "--timeout", "15"], undefined, [/--timeout must be a duration such as 90s, 15m or 1h, not "15"/]],
    ["--to an unknown id", ["down", "--to", "20990101_000000_unknown"], undefined, [/no migration has id "20990101_000000_unknown"/, /Pass an id listed by `convex-migrate status`/]],
  ] as [string, string[], Record<string, unknown> | undefined, RegExp[]][])("%s", async (_name, argv, config, patterns) => {
    const t = await deploymentWithHistory();
    const { exitCode, stdout, stderr } = await cli(t, argv, config);
    expect(exitCode).toBe(EXIT.USAGE);
    for (const pattern of patterns) expect(stderr).toMatch(pattern);
    expect(stdout).toBe("");
  });
});
