// @vitest-environment node
/**
 * `deploy --bridge` end to end on an in-memory deployment that judges each
 * push as Convex does (every stored document against the pushed schema).
 * From the example's release before its migrations, with a required field,
 * an enum narrowing, a rename and a removed table pending, one command ends
 * with the target schema deployed, every migration applied and the working
 * tree unchanged; a stop between the pushes leaves the deployment on a
 * schema that accepts its data.
 */
import fs from "node:fs";
import path from "node:path";
import type { GenericId } from "convex/values";
import { afterEach, describe, expect, test } from "vitest";
import {
  bridgeChapter,
  bridgeReleaseProject,
  checkOutNarrowingCommit,
  seedBridgeRelease,
} from "../../js-shim/src/cli/commands/demoBridge";
import { InProcessDeployment, REPO_ROOT } from "../../js-shim/src/cli/transport/inProcess";
import type { StatusReport } from "../../js-shim/src/cli/types";
import { checkDocuments } from "../../js-shim/src/client/preflight";
import { runCli } from "../../js-shim/src/cli/program";
import { capture, cli, removeProject } from "./helpers";

const projects: string[] = [];
afterEach(() => {
  for (const p of projects.splice(0)) removeProject(p);
});

const SMALL = { todos: 60, users: 12, sessions: 8, notes: 5 };

async function release(name: string) {
  const dir = bridgeReleaseProject(path.join(REPO_ROOT, ".demo", `test-bridge-${name}-${process.pid}`));
  projects.push(dir);
  fs.writeFileSync(path.join(dir, "convex-migrate.json"), JSON.stringify({ pollIntervalMs: 20 }));
  const deployment = await InProcessDeployment.create(dir, { validatePushes: true });
  await seedBridgeRelease(deployment, SMALL);
  const target = checkOutNarrowingCommit(dir);
  const run = (...args: string[]) => cli(args, { cwd: dir, transport: deployment });
  /** Every stored document of `table` fits the schema the deployment runs. */
  const fitsDeployed = async (table: string) => {
    const deployed = (await deployment.run("migrate:deployedSchema", {}, "query")) as string;
    const result = await deployment.inDatabase(async (ctx) =>
      checkDocuments(ctx.db, { schema: deployed, table, documents: await ctx.db.query(table as never).collect(), maxSamples: 1 }),
    );
    return result.violating === 0;
  };
  return { dir, deployment, target, run, fitsDeployed };
}

const treeOf = (dir: string) =>
  fs
    .readdirSync(path.join(dir, "convex"), { recursive: true, encoding: "utf8" })
    .sort()
    .map((f) => {
      const p = path.join(dir, "convex", f);
      return fs.statSync(p).isFile() ? `${f}:${fs.readFileSync(p, "utf8")}` : f;
    });

describe("deploy --bridge on a deployment that validates each push", () => {
  test("a plain deploy of the narrowing commit is refused, and nothing is migrated", async () => {
    const p = await release("plain");
    const r = await p.run("deploy");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Schema validation failed");
    const status = (await p.deployment.run("migrate:status", {}, "query")) as StatusReport;
    expect(status.recentRuns).toEqual([]);
  });

  test("one command: target deployed, every migration applied, tree unchanged", async () => {
    const p = await release("ok");
    const before = treeOf(p.dir);
    const r = await p.run("deploy", "--bridge", "--env", "staging");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(treeOf(p.dir)).toEqual(before);
    expect(fs.readFileSync(path.join(p.dir, "convex", "schema.ts"), "utf8")).toBe(p.target);
    // The deployment runs the target schema: the narrowed one, no `sessions`.
    const deployed = JSON.parse((await p.deployment.run("migrate:deployedSchema", {}, "query")) as string) as {
      tables: { tableName: string }[];
    };
    expect(deployed.tables.map((t) => t.tableName)).not.toContain("sessions");
    const status = (await p.deployment.run("migrate:status", {}, "query")) as StatusReport;
    expect(status.pending).toEqual([]);
    expect(status.migrations.every((m) => m.state === "completed")).toBe(true);
    // One release record for the run, both pushes and the check.
    expect(status.recentRuns[0]?.release).toMatchObject({
      environment: "staging",
      deploy: {
        pipeline: "bridge",
        outcome: "deployed",
        pushes: [
          { schema: "bridge", ok: true },
          { schema: "target", ok: true },
        ],
        check: { rejected: 0 },
      },
    });
    const todos = await p.deployment.inDatabase(async (ctx) => await ctx.db.query("todos").collect());
    expect(
      todos.every((t) => typeof t.done === "boolean" && ["low", "medium", "high"].includes(String(t.priority))),
    ).toBe(true);
    const shown = await p.run("status");
    expect(shown.stdout).toContain("deploy --bridge deployed (2 of 2 pushes)");
    const users = await p.deployment.inDatabase(async (ctx) => await ctx.db.query("users").collect());
    expect(users.every((u) => u.fullName !== undefined && u.name === undefined)).toBe(true);
    expect(await p.deployment.inDatabase(async (ctx) => (await ctx.db.query("sessions").collect()).length)).toBe(0);
  });

  test("check finds a document the migrations missed: exit 1 before the second push, on the bridge", async () => {
    const p = await release("missed");
    // The commit's priority migration is wrong: it keeps "urgent".
    const file = path.join(p.dir, "convex", "migrations", "20261103_090000_narrow_todo_priority.ts");
    fs.writeFileSync(
      file,
      fs.readFileSync(file, "utf8").replace(`: "medium";`, `: p === "urgent" ? "urgent" : "medium";`),
    );
    const before = treeOf(p.dir);
    const r = await p.run("deploy", "--bridge");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('found string "urgent"');
    expect(r.stdout).toContain("Not pushing convex/schema.ts");
    expect(treeOf(p.dir)).toEqual(before);
    const status = (await p.deployment.run("migrate:status", {}, "query")) as StatusReport;
    expect(status.recentRuns[0]?.release.deploy).toMatchObject({
      outcome: "check_failed",
      pushes: [{ schema: "bridge", ok: true }],
    });
    // The deployment stays on the bridge, which accepts the data as it is.
    const deployed = (await p.deployment.run("migrate:deployedSchema", {}, "query")) as string;
    expect(deployed).toContain('"sessions"');
    for (const table of ["todos", "users", "sessions", "sessionsBackup"])
      expect(await p.fitsDeployed(table)).toBe(true);
  });

  test("a failing migration: exit 1 after the first push, the deployment on the bridge, rerun finishes", async () => {
    const p = await release("fails");
    // A user with both fields set makes the rename migration stop, as it is written to.
    await p.deployment.inDatabase(async (ctx) => {
      await ctx.db.insert("users", { name: "Ada", fullName: "Ada Lovelace" });
    });
    const r = await p.run("deploy", "--bridge");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("safe to stay there");
    for (const table of ["todos", "users", "sessions"]) expect(await p.fitsDeployed(table)).toBe(true);
    // A person decides; the rerun pushes the same bridge, resumes and finishes.
    await p.deployment.inDatabase(async (ctx) => {
      const ada = (await ctx.db.query("users").collect()).find((u) => u.fullName === "Ada Lovelace");
      if (ada) await ctx.db.patch(ada._id as GenericId<"users">, { name: undefined });
    });
    const again = await p.run("deploy", "--bridge");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(fs.readFileSync(path.join(p.dir, "convex", "schema.ts"), "utf8")).toBe(p.target);
  });

  test("the demo's chapter runs and says where a real deployment runs convex deploy", async () => {
    const stdout = capture();
    const steps: { command: string; exitCode: number; ms: number }[] = [];
    const io = { stdout, stderr: capture(), env: { PATH: process.env.PATH }, cwd: REPO_ROOT };
    projects.push(path.join(REPO_ROOT, ".demo", "bridge-project"));
    await bridgeChapter({
      io,
      c: (await import("picocolors")).default.createColors(false),
      say: (t = "") => stdout.write(`${t}\n`),
      chapter: (t) => stdout.write(`${t}\n`),
      steps,
      run: runCli,
    });
    expect(stdout.text).toContain("A real deployment runs `npx convex deploy` at those points");
    expect(steps.map((s) => [s.command, s.exitCode])).toEqual([
      ["convex-migrate deploy", 1],
      ["convex-migrate deploy --bridge --dry-run", 0],
      ["convex-migrate deploy --bridge --env demo --tag v2.0.0", 0],
      ["convex-migrate status --exit-code", 0],
    ]);
  });
});
