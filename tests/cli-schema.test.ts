/**
 * The schema commands (`check`, `plan`, `sync`) against the example app on an
 * in-process deployment: what they find, what they print, their exit codes,
 * and that `sync` rolls back exactly the applied migrations the next branch
 * does not know, or nothing at all.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { makeFunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../example/convex/_generated/api";
import { loadConfig } from "../js-shim/src/cli/config";
import { makeContext } from "../js-shim/src/cli/context";
import { CliError, type ExitCode } from "../js-shim/src/cli/errors";
import type { Io } from "../js-shim/src/cli/io";
import { registerSchemaCommands } from "../js-shim/src/cli/schema";
import { check, checkExitCode, formatCheck } from "../js-shim/src/cli/schema/check";
import { knownMigrationIds } from "../js-shim/src/cli/schema/load";
import { formatPlan, plan } from "../js-shim/src/cli/schema/plan";
import { formatSync, sync } from "../js-shim/src/cli/schema/sync";
import type { SchemaCommandContext } from "../js-shim/src/cli/schema/types";
import { deployment, drain, type Deployment, seedExampleApp as seed } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const ROOT = path.resolve(__dirname, "..");
const WIDE = "example/convex/schema.ts";
const NARROW = "example/convex/schema.narrowed.ts";
const ID = {
  done: "20261101_090000_backfill_todo_done",
  rename: "20261102_090000_rename_user_name",
  priority: "20261103_090000_narrow_todo_priority",
  notes: "20261104_090000_copy_notes_to_notes_v2",
  sessions: "20261105_090000_backup_and_delete_sessions",
  stale: "20261106_090000_flag_stale_open_todos",
};
const ALL = Object.values(ID);

/** The CLI's view of a convex-test deployment: functions by `<module>:<name>`. */
function context(t: Deployment): SchemaCommandContext {
  return {
    functionsModule: "migrate",
    cwd: ROOT,
    transport: {
      run: (fn, args, kind) =>
        kind === "query"
          ? t.query(makeFunctionReference<"query">(fn), args)
          : t.mutation(makeFunctionReference<"mutation">(fn), args),
    },
  };
}

const status = (t: Deployment) => t.query(internal.migrate.status, {});

async function up(t: Deployment, args: Record<string, unknown> = {}) {
  await t.mutation(internal.migrate.start, args as never);
  await drain(t);
}

/** A migrations folder of another branch, holding files for `ids`. */
function branchFolder(ids: string[], extra: string[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "convex-migrate-branch-"));
  for (const name of [...ids.map((id) => `${id}.ts`), ...extra]) fs.writeFileSync(path.join(dir, name), "// migration\n");
  return dir;
}

describe("check", () => {
  test("before up the narrowed schema is violated by exactly the unmigrated documents; after up by none", async () => {
    const t = deployment();
    await seed(t);
    const before = await check(context(t), { schema: NARROW, pageSize: 8 });
    // 20 todos lack `done`; 4 more have it but a priority outside the three levels
    // ("HIGH", "urgent!"); all 3 users still have `name` instead of `fullName`.
    const todos = before.tables.find((x) => x.table === "todos")!;
    expect(todos).toMatchObject({ scanned: 30, violating: 24 });
    expect(todos.samples).toHaveLength(3);
    expect(before.tables.find((x) => x.table === "users")).toMatchObject({ scanned: 3, violating: 3 });
    expect(before).toMatchObject({ rejected: 27, violating: 27, schemaValidation: true });
    expect(before.tables.map((x) => x.table)).toEqual([
      "myTable",
      "todos",
      "users",
      "notes",
      "notesV2",
      "sessionsBackup",
      "writeCounts",
    ]);
    expect(checkExitCode(before)).toBe(1);
    const text = formatCheck(before);
    expect(text).toMatch(/✗ todos\s+30 scanned\s+24 violating/);
    expect(text).toMatch(/done: expected boolean, found missing/);
    expect(text).toContain("… and 21 more documents");
    expect(text).toContain("27 of 38 documents would be rejected by example/convex/schema.narrowed.ts");

    await up(t);
    const after = await check(context(t), { schema: NARROW });
    expect(after).toMatchObject({ rejected: 0, violating: 0 });
    expect(after.tables.find((x) => x.table === "todos")!.scanned).toBe(30);
    expect(checkExitCode(after)).toBe(0);
    expect(formatCheck(after)).toContain("the deployment will accept it");
  });

  test("the widened schema, the one deployed, accepts the data as it is", async () => {
    const t = deployment();
    await seed(t);
    const report = await check(context(t), { schema: WIDE, tables: ["todos", "users"] });
    expect(report).toMatchObject({ scanned: 33, rejected: 0 });
    expect(report.tables.map((x) => x.table)).toEqual(["todos", "users"]);
  });

  test("each call carries only its own table's part of the schema (command lines are short)", async () => {
    const t = deployment();
    await seed(t);
    const sent: { table: string; tables: string[] }[] = [];
    const ctx = context(t);
    await check(
      {
        ...ctx,
        transport: {
          run: (fn, args, kind) => {
            const schema = JSON.parse(args.schema as string) as { tables: { tableName: string }[] };
            sent.push({ table: args.table as string, tables: schema.tables.map((x) => x.tableName) });
            return ctx.transport.run(fn, args, kind);
          },
        },
      },
      { schema: NARROW, tables: ["todos", "sessions"], pageSize: 20 },
    );
    expect(sent).toEqual([
      { table: "todos", tables: ["todos"] },
      { table: "todos", tables: ["todos"] },
      { table: "sessions", tables: [] },
    ]);
  });

  test("a missing schema file or an app without checkSchema is a usage error", async () => {
    const t = deployment();
    await expect(check(context(t), { schema: "nope/schema.ts" })).rejects.toMatchObject({ exitCode: 2 });
    const ctx = { ...context(t), functionsModule: "counting" };
    await expect(check(ctx, { schema: NARROW })).rejects.toMatchObject({
      exitCode: 2,
      message: "The deployment has no function counting:checkSchema.",
    });
  });
});

describe("plan", () => {
  test("lists each change of the narrowed schema, marked, with the pending migrations on its table", async () => {
    const t = deployment();
    const report = await plan(context(t), { schema: NARROW });
    expect(report.safety).toBe("needs_migration");
    expect(report.changes.map((c) => [c.table, c.kind, c.path, c.safety, c.pendingMigrations])).toEqual([
      ["sessions", "table_removed", "", "needs_migration", [ID.sessions]],
      ["todos", "optional_to_required", "done", "needs_migration", [ID.done, ID.priority, ID.stale]],
      ["todos", "optional_to_required", "priority", "needs_migration", [ID.done, ID.priority, ID.stale]],
      ["todos", "type_narrowed", "priority", "needs_migration", [ID.done, ID.priority, ID.stale]],
      ["users", "optional_to_required", "fullName", "needs_migration", [ID.rename]],
      ["users", "field_removed", "name", "needs_migration", [ID.rename]],
    ]);
    expect(report.uncovered).toBe(0);
    expect(report.pending).toEqual(ALL);
    const text = formatPlan(report);
    expect(text).toContain("Schema changes from the deployed schema to example/convex/schema.narrowed.ts:");
    expect(text).toMatch(/✗ needs migration {2}done: optional field becomes required/);
    expect(text).toContain(`pending: ${ID.rename}`);
    expect(text).toContain("6 of 6 changes need data work.");
  });

  test("after up no migration is pending, and plan says so per change", async () => {
    const t = deployment();
    await up(t);
    const report = await plan(context(t), { schema: NARROW });
    expect(report.pending).toEqual([]);
    expect(report.uncovered).toBe(6);
    expect(formatPlan(report)).toContain("no pending migration touches todos");
  });

  test("safe changes are marked safe, and no change at all says so", async () => {
    const t = deployment();
    expect(formatPlan(await plan(context(t), { schema: WIDE }))).toBe(
      `No schema changes: ${WIDE} matches the deployed schema.`,
    );
    const reverse = await plan({ ...context(t), transport: { run: narrowDeployed(t) } }, { schema: WIDE });
    expect(reverse.safety).toBe("safe");
    expect(reverse.changes.map((c) => [c.table, c.kind, c.safety])).toContainEqual(["sessions", "table_added", "safe"]);
    expect(formatPlan(reverse)).toContain("Every change is safe");
  });
});

/** A transport whose deployment runs the narrowed schema (to diff the other way). */
function narrowDeployed(t: Deployment) {
  return async (fn: string, args: Record<string, unknown>) => {
    if (fn === "migrate:deployedSchema") {
      const { exportSchema } = await import("../js-shim/src/client/preflight");
      return exportSchema((await import("../example/convex/schema.narrowed")).default);
    }
    return await t.query(makeFunctionReference<"query">(fn), args);
  };
}

describe("sync", () => {
  /** Waits for the run the way `down` does: drain, then read its outcome. */
  const waitFor = (t: Deployment) => async (runId: string) => {
    await drain(t);
    const run = (await status(t)).recentRuns.find((r: { runId: string }) => r.runId === runId);
    return run?.status === "succeeded" ? 0 : 1;
  };

  const states = async (t: Deployment) =>
    Object.fromEntries((await status(t)).migrations.map((m: { id: string; state: string }) => [m.id, m.state]));

  test("rolls back, newest first, exactly the applied migrations the next branch does not know", async () => {
    const t = deployment();
    await seed(t);
    await up(t);
    const otherBranch = branchFolder([ID.done, ID.rename, ID.priority, "20261120_120000_other_branch_only"]);
    const report = await sync(context(t), { keepFrom: otherBranch, waitForRun: waitFor(t) });
    expect(report).toMatchObject({ status: "running", exitCode: 0, rollBack: [ID.stale, ID.sessions, ID.notes] });
    expect(await states(t)).toEqual({
      [ID.done]: "completed",
      [ID.rename]: "completed",
      [ID.priority]: "completed",
      [ID.notes]: "rolled_back",
      [ID.sessions]: "rolled_back",
      [ID.stale]: "rolled_back",
    });
    const data = await t.run(async (ctx) => ({
      notesV2: (await ctx.db.query("notesV2").collect()).length,
      sessions: (await ctx.db.query("sessions").collect()).length,
      stale: (await ctx.db.query("todos").collect()).filter((d) => d.stale !== undefined).length,
    }));
    expect(data).toEqual({ notesV2: 0, sessions: 4, stale: 0 });
    const run = (await status(t)).recentRuns[0]!;
    expect(run).toMatchObject({ direction: "down", status: "succeeded" });
    expect(run.items.map((i: { id: string }) => i.id)).toEqual([ID.stale, ID.sessions, ID.notes]);
    expect(formatSync(report)).toContain("Now deploy the new branch (npx convex deploy), then run `convex-migrate up`.");

    // Syncing to the same branch again finds nothing more to do.
    const again = await sync(context(t), { keepFrom: otherBranch, waitForRun: waitFor(t) });
    expect(again).toMatchObject({ status: "noop", exitCode: 0, rollBack: [] });
  });

  test("refuses with nothing changed when a migration to roll back has no down step", async () => {
    const t = deployment();
    await seed(t);
    await up(t);
    const snapshot = async () => ({
      states: await states(t),
      runs: (await status(t)).recentRuns.length,
      data: await t.run(async (ctx) => ({
        todos: await ctx.db.query("todos").collect(),
        notesV2: await ctx.db.query("notesV2").collect(),
        sessionsBackup: await ctx.db.query("sessionsBackup").collect(),
      })),
    });
    const before = await snapshot();
    // The other branch knows only the first migration; the third has no down step.
    const report = await sync(context(t), { keepFrom: branchFolder([ID.done]), waitForRun: waitFor(t) });
    expect(report).toMatchObject({ status: "refused", exitCode: 2, error: { code: "NO_DOWN_STEP" } });
    expect(report.error!.message).toContain(ID.priority);
    await drain(t);
    expect(await snapshot()).toEqual(before);
    expect(formatSync(report)).toMatch(/^Cannot sync: .*has no down step.*Nothing was changed\./);
  });

  test("a dry run names what it would roll back and changes nothing", async () => {
    const t = deployment();
    await up(t);
    const report = await sync(context(t), {
      keepFrom: branchFolder([ID.done, ID.rename, ID.priority, ID.notes]),
      dryRun: true,
      waitForRun: waitFor(t),
    });
    expect(report).toMatchObject({ status: "dry_run", exitCode: 0, rollBack: [ID.stale, ID.sessions] });
    await drain(t);
    expect(Object.values(await states(t))).toEqual(Array(6).fill("completed"));
  });

  test("a sync while another run is active starts nothing", async () => {
    const t = deployment();
    await seed(t);
    await t.mutation(internal.migrate.start, {});
    const report = await sync(context(t), { keepFrom: branchFolder([ID.done]), waitForRun: waitFor(t) });
    expect(report).toMatchObject({ status: "already_running", exitCode: 1 });
    await drain(t);
    expect((await status(t)).recentRuns).toHaveLength(1);
  });

  test("keep ids come from migration file names or from a manifest", () => {
    const dir = branchFolder([ID.rename, ID.done], ["manifest.ts", "README.md", `${ID.stale}.test.ts`, "helpers.ts"]);
    expect(knownMigrationIds(dir)).toEqual([ID.done, ID.rename]);
    expect(knownMigrationIds("example/convex/migrations/manifest.ts", ROOT)).toEqual(ALL);
    expect(knownMigrationIds("example/convex/migrations", ROOT)).toEqual(ALL);
    expect(() => knownMigrationIds(branchFolder([], ["manifest.ts"]))).toThrow(/names no migration/);
    expect(() => knownMigrationIds("/nonexistent/migrations")).toThrow(/No migrations folder or manifest/);
  });
});

describe("on the command line", () => {
  const EXAMPLE = path.join(ROOT, "example");

  /**
   * The three commands as the program registers them, run in the example
   * project (so `convex/schema.ts` and `convex/migrations` are the defaults).
   * Each query first runs the scheduled batches, so waiting ends at once.
   */
  async function cli(t: Deployment, argv: string[]) {
    let code: ExitCode = 0;
    const out: string[] = [];
    const err: string[] = [];
    const ctx = context(t);
    const io: Io = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
      cwd: EXAMPLE,
      transport: {
        run: async (fn, args, kind) => {
          if (kind === "query") await drain(t);
          return await ctx.transport.run(fn, args, kind);
        },
        deploy: async () => {},
      },
    };
    const program = new Command("convex-migrate").exitOverride();
    registerSchemaCommands(program, {
      io,
      context: (f) => makeContext(io, { ...loadConfig(EXAMPLE), pollIntervalMs: 1 }, { json: f.json ?? false }),
      act:
        (fn) =>
        async (...args) => {
          code = await fn(...args);
        },
      withTarget: (cmd) => cmd,
    });
    try {
      await program.parseAsync(argv, { from: "user" });
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      code = error.exitCode;
      err.push(error.message);
    }
    return { code, stdout: out.join(""), stderr: err.join("") };
  }

  test("check exits 1 while documents would be rejected and 0 after up; --json prints one document", async () => {
    const t = deployment();
    await seed(t);
    const before = await cli(t, ["check", "--schema", "convex/schema.narrowed.ts", "--samples", "1"]);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/✗ todos\s+30 scanned\s+24 violating/);
    expect(before.stdout).toContain("27 of 38 documents would be rejected by convex/schema.narrowed.ts");
    const json = await cli(t, ["check", "--schema", "convex/schema.narrowed.ts", "--json", "--table", "users"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ rejected: 3, tables: [{ table: "users", violating: 3 }] });

    expect((await cli(t, ["check"])).code).toBe(0); // convex/schema.ts, the deployed one
    await up(t);
    const after = await cli(t, ["check", "--schema", "convex/schema.narrowed.ts"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain("All 49 documents fit convex/schema.narrowed.ts");
  });

  test("plan prints the changes and exits 0", async () => {
    const t = deployment();
    const result = await cli(t, ["plan", "--schema", "convex/schema.narrowed.ts", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.changes).toHaveLength(6);
    expect(report.safety).toBe("needs_migration");
  });

  test("sync reads the ids from a folder, waits for the rollback and says what to do next", async () => {
    const t = deployment();
    await seed(t);
    await up(t);
    const result = await cli(t, ["sync", "--keep-from", branchFolder([ID.done, ID.rename, ID.priority, ID.notes])]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Rolling back 2 migrations the next branch does not know");
    expect(result.stdout).toContain("Now deploy the new branch");
    expect((await status(t)).pending).toEqual([ID.sessions, ID.stale]);
    // The default folder is this project's own: it knows every applied migration.
    expect((await cli(t, ["sync"])).stdout).toContain("The deployment has applied no migration that convex/migrations lacks");
  });

  test("sync refuses with exit 2 when a migration has no down step; bad flags are usage errors", async () => {
    const t = deployment();
    await up(t);
    const refused = await cli(t, ["sync", "--keep-from", branchFolder([ID.done])]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain("Nothing was changed");
    expect((await cli(t, ["check", "--samples", "many"])).code).toBe(2);
    expect((await cli(t, ["sync", "--keep-from", "nowhere"])).code).toBe(2);
  });
});
