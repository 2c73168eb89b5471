// @vitest-environment node
/**
 * `convex-migrate repair` in a CI story: a hotfix edits an applied migration,
 * `status --exit-code` exits 3, `repair` accepts the edit on the record, and
 * `status --exit-code` exits 0. Through the in-process transport.
 */
import fs from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import type { RunOutcome } from "../../js-shim/src/cli/commands/up";
import type { RepairResult, StatusReport } from "../../js-shim/src/cli/types";
import { exampleIds, removeProject, setup } from "./helpers";

const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

async function project(name: string) {
  const p = await setup(name);
  projects.push(p.dir);
  return p;
}

const json = <T>(stdout: string) => JSON.parse(stdout) as T;
const DONE = "20261101_090000_backfill_todo_done";

function edit(file: string, from: string, to: string) {
  const source = fs.readFileSync(file, "utf8");
  expect(source).toContain(from);
  fs.writeFileSync(file, source.replace(from, to));
}

describe("repair", () => {
  test("a hotfixed applied migration: status exits 3, repair accepts it on the record, status exits 0", async () => {
    const p = await project("repair-story");
    await p.seedTodos(10);
    expect((await p.run("up")).code).toBe(0);
    edit(p.migrationFile(DONE), "{ done: false }", "{ done: true }");
    await p.deployment.deploy([]);
    expect((await p.run("status", "--exit-code")).code).toBe(3);
    expect((await p.run("status")).stdout).toMatch(new RegExp(`${DONE}\\s+completed\\s+v2 edited`));
    const before = await p.todos();

    const r = await p.run("repair", "--commit", "f1x3d", "--env", "production", "--json");
    expect(r.code).toBe(0);
    const out = json<RepairResult>(r.stdout);
    expect(out.status).toBe("repaired");
    expect(out.repaired).toHaveLength(1);
    expect(out.repaired[0]).toMatchObject({ id: DONE, kind: "checksum_mismatch", state: "completed" });
    expect(out.repaired[0]).toMatchObject({ oldForm: 2, newForm: 2 });
    expect(out.repaired[0]!.newChecksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.repaired[0]!.newChecksum).not.toBe(out.repaired[0]!.oldChecksum);

    expect((await p.run("status", "--exit-code")).code).toBe(0);
    expect(await p.todos()).toEqual(before);
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.drift).toEqual([]);
    const run = status.recentRuns[0]!;
    expect(run).toMatchObject({ kind: "repair", status: "succeeded", release: { commit: "f1x3d", environment: "production" } });
    expect(run.repaired?.[0]).toEqual(out.repaired[0]);
    expect(status.migrations.find((m) => m.id === DONE)).toMatchObject({ checksumForm: 2, storedForm: 2, codeUnchanged: true });

    const human = await p.run("status");
    expect(human.stdout).toContain("CHECKSUM");
    expect(human.stdout).toMatch(new RegExp(`${DONE}\\s+completed\\s+v2 unchanged`));
    expect(human.stdout).toContain("Repairs");
    expect(human.stdout).toContain(`${DONE}: edit accepted (${out.repaired[0]!.oldChecksum} v2 → ${out.repaired[0]!.newChecksum} v2)`);
    // Later runs go on: nothing is blocked any more.
    expect((await p.run("up")).code).toBe(0);
  });

  test("a deleted applied migration is recorded as removed and no longer drifts", async () => {
    const p = await project("repair-removed");
    expect((await p.run("up")).code).toBe(0);
    const last = exampleIds().at(-1)!;
    fs.rmSync(p.migrationFile(last));
    const manifest = `${p.dir}/convex/migrations/manifest.ts`;
    const source = fs.readFileSync(manifest, "utf8");
    // Its import and its entry in the list both name the id.
    fs.writeFileSync(
      manifest,
      source
        .split("\n")
        .filter((line) => !line.includes(last))
        .join("\n"),
    );
    await p.deployment.deploy([]);
    expect((await p.run("status", "--exit-code")).code).toBe(3);
    const r = await p.run("repair", "--id", last, "--json");
    expect(r.code).toBe(0);
    expect(json<RepairResult>(r.stdout).repaired).toEqual([
      expect.objectContaining({ id: last, kind: "missing_from_manifest", state: "removed" }),
    ]);
    expect((await p.run("status", "--exit-code")).code).toBe(0);
    expect((await p.run("status")).stdout).toContain("removed");
  });

  test("nothing to repair exits 0 and says so; an id without drift exits 2 naming it", async () => {
    const p = await project("repair-noop");
    expect((await p.run("up")).code).toBe(0);
    const noop = await p.run("repair");
    expect(noop.code).toBe(0);
    expect(noop.stdout).toContain("Nothing to repair");
    const refused = await p.run("repair", "--id", DONE);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(DONE);
    expect(refused.stderr).toContain("matches the checksum on record");
  });

  test("is refused with exit 1 while a run is active, and changes nothing", async () => {
    const p = await project("repair-active");
    await p.seedTodos(5);
    const started = json<RunOutcome>((await p.run("up", "--no-wait", "--json")).stdout);
    expect(started.status).toBe("running");
    const r = await p.run("repair", "--json");
    expect(r.code).toBe(1);
    expect(json<{ error: { message: string } }>(r.stdout).error.message).toContain(`run ${started.runId} is active`);
    const status = json<StatusReport>((await p.run("status", "--json")).stdout);
    expect(status.recentRuns.some((run) => run.kind === "repair")).toBe(false);
  });

  test("down --dry-run shows per migration whether it has a down step and exits 2 when one has none", async () => {
    const p = await project("down-plan");
    expect((await p.run("up")).code).toBe(0);
    const r = await p.run("down", "--steps", "6", "--dry-run", "--json");
    const out = json<RunOutcome>(r.stdout);
    expect(out.status).toBe("dry_run");
    expect(out.plan.map((i) => i.id)).toEqual([...exampleIds()].reverse());
    const without = out.plan.filter((i) => !i.hasDown).map((i) => i.id);
    expect(without.length).toBeGreaterThan(0);
    expect(r.code).toBe(2);
    const human = await p.run("down", "--steps", "6", "--dry-run");
    expect(human.stdout).toContain("DOWN STEP");
    expect(human.stdout).toContain(`${without.join(", ")} ha`);
    // The real rollback is refused before anything runs, naming every such migration.
    const real = await p.run("down", "--steps", "6");
    expect(real.code).toBe(2);
    for (const id of without) expect(real.stderr).toContain(id);
  });
});
