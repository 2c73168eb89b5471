// @vitest-environment node
/**
 * Every command and exit code through the in-process transport: the real
 * CLI against an in-memory deployment of a copy of example/.
 */
import fs from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import type { RunOutcome } from "../../js-shim/src/cli/commands/up";
import type { StatusReport } from "../../js-shim/src/cli/types";
import { edit, exampleIds, removeProject, setup } from "./helpers";

const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

async function project(name: string, config: Record<string, unknown> = {}) {
  const p = await setup(name, config);
  projects.push(p.dir);
  return p;
}

const json = <T>(stdout: string) => JSON.parse(stdout) as T;

describe("up", () => {
  test("applies every pending migration, waits, and exits 0 with the release record", async () => {
    const p = await project("up");
    await p.seedTodos(30);
    const r = await p.run("up", "--env", "staging", "--commit", "abc123", "--tag", "v1.0.0", "--json");
    expect(r.code).toBe(0);
    const out = json<RunOutcome>(r.stdout);
    expect(out).toMatchObject({ command: "up", status: "succeeded", exitCode: 0 });
    expect(out.run?.release).toMatchObject({ environment: "staging", commit: "abc123", tag: "v1.0.0" });
    expect(out.run?.items.map((i) => i.id)).toEqual(exampleIds());
    expect((await p.todos()).every((t) => t.done === false)).toBe(true);
    // Progress and the summary went to stderr: stdout is only the JSON document.
    expect(r.stderr).toContain("succeeded");
  });

  test("with nothing pending exits 0 and says so", async () => {
    const p = await project("noop");
    expect((await p.run("up")).code).toBe(0);
    const again = await p.run("up");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Nothing to migrate");
  });

  test("--dry-run shows the plan and changes nothing", async () => {
    const p = await project("dry");
    await p.seedTodos(5);
    const r = await p.run("up", "--dry-run", "--json");
    expect(r.code).toBe(0);
    const out = json<RunOutcome>(r.stdout);
    expect(out.status).toBe("dry_run");
    expect(out.plan.map((i) => i.id)).toEqual(exampleIds());
    expect((await p.todos()).every((t) => t.done === undefined)).toBe(true);
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.pending).toEqual(exampleIds());
  });

  test("--no-wait starts the run and exits 0; a second up follows the active run instead of starting another", async () => {
    const p = await project("nowait");
    await p.seedTodos(300);
    const started = await p.run("up", "--no-wait", "--batch-size", "10", "--json");
    expect(started.code).toBe(0);
    const first = json<RunOutcome>(started.stdout);
    expect(first.status).toBe("running");
    const follow = await p.run("up", "--json");
    expect(follow.code).toBe(0);
    const second = json<RunOutcome>(follow.stdout);
    expect(second).toMatchObject({ status: "succeeded", runId: first.runId, alreadyRunning: true });
  });

  test("--timeout stops waiting with exit 1 while the run goes on", async () => {
    const p = await project("timeout");
    await p.seedTodos(400);
    const r = await p.run("up", "--timeout", "50ms", "--batch-size", "5", "--json");
    expect(r.code).toBe(1);
    expect(json<RunOutcome>(r.stdout).status).toBe("timed_out");
    expect(r.stderr).toContain("still running");
    expect((await p.run("up")).code).toBe(0);
  });

  test("a failing migration exits 1 naming the document; fixed, up resumes it and exits 0", async () => {
    const p = await project("fail");
    await p.seedTodos(120, (i) => (i === 70 ? { priority: "boom" } : {}));
    const file = p.migrationFile("20261101_090000_backfill_todo_done");
    const original = fs.readFileSync(file, "utf8");
    const guard = 'if (doc.priority === "boom") throw new Error("bad priority"); ';
    fs.writeFileSync(
      file,
      original.replace(
        /migrateOne: \(_ctx, doc\) =>\s*(.*),\n/,
        (_m, body: string) => `migrateOne: (_ctx, doc) => { ${guard}return ${body}; },\n`,
      ),
    );
    expect(fs.readFileSync(file, "utf8")).toContain(guard);
    await p.deployment.deploy([]);
    const failed = await p.run("up", "--batch-size", "20", "--json");
    expect(failed.code).toBe(1);
    const out = json<RunOutcome>(failed.stdout);
    expect(out.status).toBe("failed");
    const item = out.run?.items.find((i) => i.status === "failed");
    expect(item?.error).toContain("bad priority");
    const boom = (await p.todos()).find((t) => t.priority === "boom");
    expect(item?.error).toContain(boom?._id);
    // Batches before the failing one stayed committed; the failing one rolled back.
    const committed = (await p.todos()).filter((t) => t.done === false).length;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThanOrEqual(70);
    expect(boom?.done).toBeUndefined();

    edit(file, guard, 'if (doc.priority === "boom") return undefined; ');
    await p.deployment.deploy([]);
    const resumed = await p.run("up", "--json");
    expect(resumed.code).toBe(0);
    const again = json<RunOutcome>(resumed.stdout);
    expect(again.plan.find((i) => i.id === "20261101_090000_backfill_todo_done")?.resume).toBe(true);
    expect((await p.todos()).filter((t) => t.done === false).length).toBe(119);
  });
});

describe("drift", () => {
  test("an edited applied migration blocks up with exit 3 and status --exit-code with 3", async () => {
    const p = await project("drift");
    expect((await p.run("up")).code).toBe(0);
    edit(p.migrationFile("20261101_090000_backfill_todo_done"), "{ done: false }", "{ done: true }");
    await p.deployment.deploy([]);
    const blocked = await p.run("up", "--json");
    expect(blocked.code).toBe(3);
    const out = json<RunOutcome>(blocked.stdout);
    expect(out.status).toBe("drift_blocked");
    expect(out.drift[0]).toMatchObject({ kind: "checksum_mismatch", id: "20261101_090000_backfill_todo_done" });
    expect((await p.run("status", "--exit-code")).code).toBe(3);
    const human = await p.run("up");
    expect(human.stdout).toContain("checksum_mismatch");
    expect((await p.run("up", "--allow-drift")).code).toBe(0);
  });

  test("allowDrift in convex-migrate.json lets the run go on", async () => {
    const p = await project("drift-config", { allowDrift: true });
    expect((await p.run("up")).code).toBe(0);
    edit(p.migrationFile("20261101_090000_backfill_todo_done"), "{ done: false }", "{ done: true }");
    await p.deployment.deploy([]);
    expect((await p.run("up")).code).toBe(0);
  });
});

describe("status", () => {
  test("--json prints one JSON document and nothing else on stdout", async () => {
    const p = await project("status-json");
    const r = await p.run("status", "--json");
    expect(r.code).toBe(0);
    const report = json<StatusReport>(r.stdout);
    expect(report.pending).toEqual(exampleIds());
    expect(report.activeRun).toBeNull();
    expect(r.stdout.trim().startsWith("{")).toBe(true);
  });

  test("--exit-code exits 4 with pending migrations and 0 when all are applied", async () => {
    const p = await project("status-exit");
    expect((await p.run("status", "--exit-code")).code).toBe(4);
    expect((await p.run("status")).code).toBe(0);
    expect((await p.run("up")).code).toBe(0);
    const r = await p.run("status", "--exit-code");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Every migration in the manifest is applied");
  });

  test("shows the migrations, recent runs and their release records", async () => {
    const p = await project("status-human");
    await p.run("up", "--env", "production", "--commit", "0123456789abcdef", "--tag", "v2");
    const r = await p.run("status");
    for (const id of exampleIds()) expect(r.stdout).toContain(id);
    expect(r.stdout).toContain("Recent runs");
    expect(r.stdout).toMatch(/env production · commit 0123456789ab · tag v2/);
  });

  test("--watch redraws until stopped; with --json it is a usage error", async () => {
    const p = await project("watch");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { cli } = await import("./helpers");
    const r = await cli(["status", "--watch"], { cwd: p.dir, transport: p.deployment, signal: controller.signal });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Migrations");
    expect((await p.run("status", "--watch", "--json")).code).toBe(2);
  });
});

describe("down", () => {
  test("--steps 1 rolls back the newest applied migration", async () => {
    const p = await project("down");
    await p.seedTodos(10, () => ({ priority: "low", done: false }));
    expect((await p.run("up")).code).toBe(0);
    expect((await p.todos()).every((t) => t.stale === true)).toBe(true);
    const r = await p.run("down", "--steps", "1", "--json");
    expect(r.code).toBe(0);
    const out = json<RunOutcome>(r.stdout);
    expect(out.plan).toEqual([expect.objectContaining({ id: exampleIds().at(-1), direction: "down" })]);
    expect((await p.todos()).every((t) => t.stale === undefined)).toBe(true);
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.migrations.find((m) => m.id === exampleIds().at(-1))?.state).toBe("rolled_back");
  });

  test("needs exactly one of --steps and --to (exit 2)", async () => {
    const p = await project("down-usage");
    expect((await p.run("down")).code).toBe(2);
    const both = await p.run("down", "--steps", "1", "--to", "20261101_090000_backfill_todo_done");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("exactly one of --steps N or --to ID");
    expect((await p.run("down", "--steps", "zero")).code).toBe(2);
  });

  test("a migration without a down step cannot be rolled back: exit 2, nothing changed", async () => {
    const p = await project("down-nodown");
    await p.seedTodos(5);
    expect((await p.run("up")).code).toBe(0);
    const r = await p.run("down", "--to", "20261101_090000_backfill_todo_done");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("20261103_090000_narrow_todo_priority");
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.migrations.every((m) => m.state === "completed")).toBe(true);
  });

  test("--to an unknown id is a usage error", async () => {
    const p = await project("down-unknown");
    expect((await p.run("up")).code).toBe(0);
    expect((await p.run("down", "--to", "20990101_000000_nope")).code).toBe(2);
  });
});

describe("cancel", () => {
  test("cancels the active run (exit 0); the run ends canceled and up resumes it", async () => {
    const p = await project("cancel");
    await p.seedTodos(400);
    const started = json<RunOutcome>((await p.run("up", "--no-wait", "--batch-size", "5", "--json")).stdout);
    const r = await p.run("cancel", "--json");
    expect(r.code).toBe(0);
    expect(json<{ canceled: boolean; runId: string }>(r.stdout)).toMatchObject({ canceled: true, runId: started.runId });
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.activeRun).toBeNull();
    expect(status.recentRuns[0]).toMatchObject({ runId: started.runId, status: "canceled" });
    expect((await p.run("up")).code).toBe(0);
    expect((await p.todos()).every((t) => t.done === false)).toBe(true);
  });

  test("with no active run exits 0 and says nothing was canceled; an unknown --run-id exits 2", async () => {
    const p = await project("cancel-none");
    const r = await p.run("cancel");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing to cancel");
    const bad = await p.run("cancel", "--run-id", "not-a-run");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("not-a-run");
  });
});

describe("deploy", () => {
  test("deploys, then runs up strict and waits", async () => {
    const p = await project("deploy");
    const r = await p.run("deploy", "--json");
    expect(r.code).toBe(0);
    expect(json<RunOutcome>(r.stdout)).toMatchObject({ command: "deploy", status: "succeeded" });
  });

  test("a failed deploy exits 1 and migrates nothing", async () => {
    const p = await project("deploy-fail");
    const calls: string[] = [];
    const transport = {
      run: async (fn: string) => {
        calls.push(fn);
        return null;
      },
      deploy: async () => {
        throw new Error("npx convex deploy exited with code 1.");
      },
    };
    const { cli } = await import("./helpers");
    const r = await cli(["deploy", "--", "--cmd", "npm run build"], { cwd: p.dir, transport });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Nothing was migrated");
    expect(calls).toEqual([]);
  });
});

describe("usage and configuration errors exit 2", () => {
  test.each([
    [["up", "--no-such-flag"]],
    [["frobnicate"]],
    [["up", "--batch-size", "0"]],
    [["up", "--batch-size", "many"]],
    [["up", "--timeout", "15"]],
    [["up", "--timeout", "soon"]],
  ])("convex-migrate %j", async (args) => {
    const p = await project("usage");
    const r = await p.run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
  });

  test("under --json a failure is still one JSON document on stdout", async () => {
    const p = await project("json-error");
    const bad = await p.run("cancel", "--run-id", "nope", "--json");
    expect(bad.code).toBe(2);
    expect(json<{ error: { message: string }; exitCode: number }>(bad.stdout)).toMatchObject({
      exitCode: 2,
      error: { message: expect.stringContaining("nope") },
    });
    const usage = await p.run("up", "--json", "--batch-size", "-1");
    expect(usage.code).toBe(2);
    expect(json<{ exitCode: number }>(usage.stdout).exitCode).toBe(2);
  });

  test("an unknown key in convex-migrate.json is named", async () => {
    const p = await project("config", { batchsize: 10 });
    const r = await p.run("status");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown key "batchsize" in convex-migrate.json');
  });

  test("invalid JSON in convex-migrate.json", async () => {
    const p = await project("config-json");
    fs.writeFileSync(`${p.dir}/convex-migrate.json`, "{ nope");
    const r = await p.run("up");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not valid JSON");
  });

  test("a wrong functionsModule says what to fix", async () => {
    const p = await project("config-module", { functionsModule: "nowhere" });
    const r = await p.run("status");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("functionsModule");
  });
});
