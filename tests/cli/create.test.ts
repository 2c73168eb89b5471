// @vitest-environment node
/** `create`: ids, the template, the manifest rewrite, duplicates refused. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, test } from "vitest";
import { renderManifest, slugify, timestamp } from "../../js-shim/src/cli/commands/create";
import { REPO_ROOT } from "../../js-shim/src/cli/transport/inProcess";
import { cli, exampleIds, exampleProject, removeProject } from "./helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "convex-migrate-create-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const at = (iso: string) => () => new Date(iso);

/** A project folder with two migrations, a helper file and an old manifest. */
function folder(name: string) {
  const dir = path.join(tmp, name);
  const migrations = path.join(dir, "convex", "migrations");
  fs.mkdirSync(migrations, { recursive: true });
  for (const id of ["20261101_090000_first", "20261103_090000_third"]) {
    fs.writeFileSync(path.join(migrations, `${id}.ts`), `export const migration = { id: "${id}" };\n`);
  }
  fs.writeFileSync(path.join(migrations, "shared_helpers.ts"), "export const helper = 1;\n");
  fs.writeFileSync(path.join(migrations, "manifest.ts"), "// old\n");
  return { dir, migrations, read: (f: string) => fs.readFileSync(path.join(migrations, f), "utf8") };
}

describe("create", () => {
  test("names the file YYYYMMDD_HHMMSS_<slug> in UTC from a template, and rewrites the manifest in id order", async () => {
    const f = folder("basic");
    const r = await cli(["create", "Backfill Priority"], { cwd: f.dir, now: at("2026-11-22T10:15:00.000Z") });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("convex/migrations/20261122_101500_backfill_priority.ts");
    const source = f.read("20261122_101500_backfill_priority.ts");
    expect(source).toContain('id: "20261122_101500_backfill_priority"');
    expect(source).toContain('description: "backfill priority"');
    expect(source).toContain("table: TODO_table_name,");
    expect(source).toContain('import type { DataModel } from "../_generated/dataModel.js";');
    expect(f.read("manifest.ts")).toBe(
      renderManifest(
        ["20261101_090000_first", "20261103_090000_third", "20261122_101500_backfill_priority"],
        "../_generated/dataModel.js",
      ),
    );
    expect(f.read("manifest.ts")).not.toContain("shared_helpers");
  });

  test("an id that sorts between existing ones lands in its place in the manifest", async () => {
    const f = folder("order");
    expect((await cli(["create", "second"], { cwd: f.dir, now: at("2026-11-02T00:00:01Z") })).code).toBe(0);
    const manifest = f.read("manifest.ts");
    const order = ["20261101_090000_first", "20261102_000001_second", "20261103_090000_third"].map((id) =>
      manifest.indexOf(`  m${id},`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test("refuses an existing id (exit 2) and leaves the folder as it was", async () => {
    const f = folder("duplicate");
    const now = at("2026-11-22T10:15:00Z");
    expect((await cli(["create", "backfill_priority"], { cwd: f.dir, now })).code).toBe(0);
    const manifest = f.read("manifest.ts");
    const again = await cli(["create", "backfill-priority"], { cwd: f.dir, now });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("20261122_101500_backfill_priority already exists");
    expect(f.read("manifest.ts")).toBe(manifest);
  });

  test("a name with nothing to make a slug of, and a malformed id-like file, are usage errors", async () => {
    const f = folder("bad");
    expect((await cli(["create", "!!!"], { cwd: f.dir })).code).toBe(2);
    fs.writeFileSync(path.join(f.migrations, "20261399_000000_bad_month.ts"), "");
    const r = await cli(["create", "ok"], { cwd: f.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("month 13");
  });

  test("--json prints the id, the file and the manifest's migrations", async () => {
    const f = folder("json");
    const r = await cli(["create", "add_index", "--json"], { cwd: f.dir, now: at("2026-12-01T08:00:00Z") });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      id: "20261201_080000_add_index",
      file: path.join("convex", "migrations", "20261201_080000_add_index.ts"),
      manifest: path.join("convex", "migrations", "manifest.ts"),
      migrations: ["20261101_090000_first", "20261103_090000_third", "20261201_080000_add_index"],
    });
  });

  test("honours migrationsDir and convex.json's functions folder for the DataModel import", async () => {
    const dir = path.join(tmp, "custom");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "convex.json"), JSON.stringify({ functions: "src/convex/" }));
    fs.writeFileSync(path.join(dir, "convex-migrate.json"), JSON.stringify({ migrationsDir: "src/convex/data/migrations" }));
    const r = await cli(["create", "x"], { cwd: dir, now: at("2026-11-22T00:00:00Z") });
    expect(r.code).toBe(0);
    const source = fs.readFileSync(path.join(dir, "src/convex/data/migrations/20261122_000000_x.ts"), "utf8");
    expect(source).toContain('from "../../_generated/dataModel.js"');
  });

  test("the example's manifest is exactly what create writes", () => {
    const manifest = path.join(REPO_ROOT, "example", "convex", "migrations", "manifest.ts");
    expect(fs.readFileSync(manifest, "utf8")).toBe(renderManifest(exampleIds(), "../_generated/dataModel.js"));
  });

  test("slugs and timestamps", () => {
    expect(slugify("backfillPriority")).toBe("backfill_priority");
    expect(slugify("  Copy notes -> notesV2! ")).toBe("copy_notes_notes_v2");
    expect(timestamp(new Date("2026-01-02T03:04:05.678Z"))).toBe("20260102_030405");
  });
});

describe("the template", () => {
  const project = exampleProject("create-tsc");
  afterAll(() => removeProject(project));

  test("does not type-check until its table is filled in", async () => {
    const r = await cli(["create", "backfill_owner"], { cwd: project, now: at("2026-12-24T12:00:00Z") });
    expect(r.code).toBe(0);
    const file = path.join(project, "convex", "migrations", "20261224_120000_backfill_owner.ts");
    const config = ts.getParsedCommandLineOfConfigFile(path.join(REPO_ROOT, "tsconfig.json"), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    });
    const options = { ...config!.options, noEmit: true };
    const errorsIn = (program: ts.Program) =>
      ts
        .getPreEmitDiagnostics(program, program.getSourceFile(file))
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));

    const before = ts.createProgram([file], options);
    // (Until the table is named, migrateOne's parameters have no type either.)
    expect(errorsIn(before)[0]).toBe("Cannot find name 'TODO_table_name'.");

    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("TODO_table_name", '"todos"'));
    const after = ts.createProgram({ rootNames: [file], options, oldProgram: before });
    expect(errorsIn(after)).toEqual([]);
    // The manifest with the new migration type-checks too.
    const manifest = ts.createProgram({
      rootNames: [path.join(project, "convex", "migrations", "manifest.ts")],
      options,
      oldProgram: after,
    });
    expect(ts.getPreEmitDiagnostics(manifest).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
  });
});
