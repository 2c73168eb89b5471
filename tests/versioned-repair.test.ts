/**
 * Checksum forms, repair and manifest order through the component and the
 * client: a deployment that stored form v1 checksums upgrades without false
 * drift, repair accepts edits and removals on the record (and nothing while
 * a run is active), an unsorted manifest runs in id order, and a raw step
 * without its batchRaw export is refused at start with the line to add.
 */
import { convexTest } from "convex-test";
import { createFunctionHandle, makeFunctionReference, type FunctionReference } from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Migrations, defineMigration, defineMigrationSet } from "convex-migrate";
import componentSchema from "../convex/schema";
import type { Doc } from "../convex/_generated/dataModel";
import { mutation } from "../convex/_generated/server";
import { components, internal } from "../example/convex/_generated/api";
import type { DataModel } from "../example/convex/_generated/dataModel";
import { internalMutation } from "../example/convex/functions";
import { manifest } from "../example/convex/migrations/manifest";
import schema from "../example/convex/schema";
import * as engine from "../js-shim/src/fullEngine";
import { manifestDefs } from "../js-shim/src/client/versioned";
import { drain, modules, seedExampleApp as seed } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const componentModules = import.meta.glob(["../convex/**/*.ts", "!../convex/**/*.test.ts"]);

/**
 * Test-only component module: writes the component's rows as a deployment
 * that ran an earlier release holds them (records with a `sha256:` form v1
 * checksum and no form field, as that release stored them), or with a form
 * when given one.
 */
const fixture = {
  writeHistory: mutation({
    args: {
      applied: v.array(
        v.object({
          id: v.string(),
          description: v.string(),
          checksum: v.string(),
          checksumForm: v.optional(v.number()),
          failed: v.optional(v.boolean()),
        }),
      ),
      atMs: v.number(),
    },
    handler: async (ctx, args) => {
      const failed = args.applied.some((a) => a.failed);
      const run = await ctx.db.insert("runs", {
        active: false,
        direction: "up",
        state: {
          status: failed ? "failed" : "succeeded",
          items: args.applied.map((a) => ({
            id: a.id,
            direction: "up" as const,
            status: a.failed ? ("failed" as const) : ("completed" as const),
            processed: 0,
            updated: 0,
            startedMs: args.atMs,
            endedMs: args.atMs,
          })),
          startedMs: args.atMs,
          endedMs: args.atMs,
        },
        planned: args.applied.map((a) => ({ id: a.id, checksum: a.checksum, description: a.description, resume: false })),
        batchFnHandle: "function://;migrate:batch",
        driftAllowed: false,
        drift: [],
        release: { environment: "production", commit: "0ld" },
      });
      for (const a of args.applied) {
        await ctx.db.insert("versions", {
          migrationId: a.id,
          description: a.description,
          state: a.failed ? "failed" : "completed",
          checksum: a.checksum,
          ...(a.checksumForm !== undefined ? { checksumForm: a.checksumForm } : {}),
          lastDirection: "up",
          lastRun: run,
          appliedAt: args.atMs,
          updatedAt: args.atMs,
        });
      }
    },
  }),
  versions: mutation({
    args: {},
    handler: async (ctx) => await ctx.db.query("versions").collect(),
  }),
  runs: mutation({
    args: {},
    handler: async (ctx) => await ctx.db.query("runs").collect(),
  }),
};

/** Raw step, but the module exports only start, status, cancel and batch. */
const rawSet = defineMigrationSet<DataModel>([
  defineMigration<DataModel>({
    id: "20261112_090000_raw_without_export",
    description: "raw writes",
    up: { table: "users", writeMode: "raw", migrateOne: () => ({ email: "x" }) },
  }),
]);
const rawMigrations = new Migrations<DataModel>(components.migrations, { internalMutation });
const { start: rawStart, status: rawStatus, cancel: rawCancel, batch: rawBatch } = rawMigrations.versioned(rawSet);

function deployment() {
  const t = convexTest({
    schema,
    modules: {
      ...modules,
      "../example/convex/rawWithoutExport.ts": async () => ({
        start: rawStart,
        status: rawStatus,
        cancel: rawCancel,
        batch: rawBatch,
      }),
    },
  });
  t.registerComponent("migrations", componentSchema, {
    ...componentModules,
    "../convex/upgradeFixture.ts": async () => fixture,
  });
  return t;
}
type Deployment = ReturnType<typeof deployment>;

type AnyMutation = FunctionReference<"mutation", "internal", Record<string, unknown>, unknown>;
const ref = (name: string) => makeFunctionReference<"mutation", Record<string, unknown>>(name);
const fixtureRef = (name: keyof typeof fixture) =>
  (components.migrations as unknown as Record<string, Record<string, AnyMutation>>).upgradeFixture![name]!;

const versions = (t: Deployment) =>
  t.run(
    async (ctx) =>
      (await ctx.runMutation(fixtureRef("versions"), {})) as { migrationId: string; checksum: string; checksumForm?: number; state: string }[],
  );

const runs = (t: Deployment) => t.run(async (ctx) => (await ctx.runMutation(fixtureRef("runs"), {})) as Doc<"runs">[]);

/** What users and tooling match every stored checksum value against. */
const SHA256 = /^sha256:[0-9a-f]{64}$/;

const defs = () => manifestDefs(manifest as never);

async function call(t: Deployment, fn: "start" | "status" | "repair", defs: ReturnType<typeof manifestDefs>, args: Record<string, unknown> = {}) {
  return await t.run(async (ctx) => {
    const target = components.migrations.versioned[fn];
    const withHandle = { ...args, manifest: defs, ...(fn === "status" ? {} : { batchHandle: await createFunctionHandle(internal.migrate.batch) }) };
    return fn === "status" ? await ctx.runQuery(target as never, withHandle as never) : await ctx.runMutation(target as never, withHandle as never);
  }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const todos = (t: Deployment) => t.run(async (ctx) => await ctx.db.query("todos").collect());

describe("checksum forms", () => {
  /**
   * The first three example migrations run by a release that stored form v1;
   * with `secondFailed`, the second failed there and is left to resume.
   */
  async function appliedUnderV1(t: Deployment, secondFailed = false) {
    await seed(t);
    const entries = engine.buildManifest({ migrations: defs() });
    await t.run(async (ctx) =>
      ctx.runMutation(fixtureRef("writeHistory"), {
        applied: entries.slice(0, 3).map((e, i) => ({
          id: e.id,
          description: e.description,
          checksum: e.checksumV1,
          ...(secondFailed && i === 1 ? { failed: true } : {}),
        })),
        atMs: Date.now(),
      }),
    );
    return entries;
  }

  test("records stored under form v1 are verified in v1: a description-only edit is no drift", async () => {
    const t = deployment();
    const entries = await appliedUnderV1(t, true);
    // Exactly what the previous release stored: `sha256:<v1 hex>` and no form field.
    expect((await versions(t)).map((r) => [r.checksum, "checksumForm" in r])).toEqual(
      entries.slice(0, 3).map((e) => [e.checksumV1, false]),
    );
    expect(entries[0]!.checksumV1).toMatch(SHA256);
    const edited = defs();
    edited[0]!.description = "mark every todo as not done yet";

    const report = await call(t, "status", edited);
    expect(report.drift).toEqual([]);
    expect(report.migrations.slice(0, 3).map((m: { storedForm: number; codeUnchanged: boolean }) => [m.storedForm, m.codeUnchanged])).toEqual([
      [1, true],
      [1, true],
      [1, true],
    ]);

    const started = await call(t, "start", edited);
    expect(started.status).toBe("running");
    // The failed one resumes, then the three never run.
    expect(started.plan.map((p: { id: string }) => p.id)).toEqual([entries[1]!.id, ...entries.slice(3).map((e) => e.id)]);
    await drain(t);
    // A record takes form v2 when its migration next touches data; the others keep v1.
    const stored = new Map((await versions(t)).map((r) => [r.migrationId, r]));
    expect(entries.map((e) => [stored.get(e.id)!.checksum, stored.get(e.id)!.checksumForm])).toEqual([
      [entries[0]!.checksumV1, undefined],
      [entries[1]!.checksum, 2],
      [entries[2]!.checksumV1, undefined],
      [entries[3]!.checksum, 2],
      [entries[4]!.checksum, 2],
      [entries[5]!.checksum, 2],
    ]);
    expect(stored.get(entries[1]!.id)).toMatchObject({ state: "completed", checksum: entries[1]!.checksum });
    expect([...stored.values()].every((r) => SHA256.test(r.checksum))).toBe(true);
    expect((await call(t, "status", edited)).drift).toEqual([]);
  });

  test("a v2 record stores a plain sha256:<hex> value with its form, 2, beside it", async () => {
    const t = deployment();
    await seed(t);
    const started = await call(t, "start", defs());
    expect(started.status).toBe("running");
    const shipped = engine.buildManifest({ migrations: defs() });
    // The run plans with the value and its form.
    const [run] = await runs(t);
    expect(run!.planned.map((p) => [p.checksum, p.checksumForm])).toEqual(shipped.map((e) => [e.checksum, 2]));
    await drain(t);
    const rows = await versions(t);
    expect(rows).toHaveLength(shipped.length);
    for (const row of rows) {
      expect(row.checksum).toMatch(SHA256);
      expect(row.checksumForm).toBe(2);
    }
    const report = await call(t, "status", defs());
    expect(report.drift).toEqual([]);
    expect(report.migrations.map((m: { checksum: string; checksumForm: number; storedForm: number }) => [m.checksumForm, m.storedForm])).toEqual(
      shipped.map(() => [2, 2]),
    );
  });

  test("the form field decides how a record is verified, not the value", async () => {
    const t = deployment();
    await seed(t);
    const entries = engine.buildManifest({ migrations: defs() });
    // The current form's value stored without its form reads as form v1, which it is not.
    await t.run(async (ctx) =>
      ctx.runMutation(fixtureRef("writeHistory"), {
        applied: [{ id: entries[0]!.id, description: entries[0]!.description, checksum: entries[0]!.checksum }],
        atMs: Date.now(),
      }),
    );
    const report = await call(t, "status", defs());
    expect(report.drift).toEqual([
      expect.objectContaining({
        kind: "checksum_mismatch",
        id: entries[0]!.id,
        storedChecksum: entries[0]!.checksum,
        storedForm: 1,
        currentChecksum: entries[0]!.checksumV1,
        currentForm: 1,
      }),
    ]);
    expect(report.migrations[0]).toMatchObject({ storedForm: 1, codeUnchanged: false });
  });

  test("a v1 record whose code changed is drift, compared in form v1", async () => {
    const t = deployment();
    const entries = await appliedUnderV1(t);
    const edited = defs();
    edited[1]!.up.source = edited[1]!.up.source.replace("fullName", "displayName");
    const result = await call(t, "start", edited);
    expect(result.status).toBe("drift_blocked");
    expect(result.drift).toEqual([
      expect.objectContaining({
        kind: "checksum_mismatch",
        id: entries[1]!.id,
        storedChecksum: entries[1]!.checksumV1,
        storedForm: 1,
        currentForm: 1,
      }),
    ]);
    expect(result.drift[0].currentChecksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.drift[0].currentChecksum).not.toBe(entries[1]!.checksumV1);
  });

  test("under form v2 a narrowed customRange is drift, a batch size change is not", async () => {
    const t = deployment();
    await seed(t);
    await call(t, "start", defs());
    await drain(t);
    const resized = defs();
    resized[0]!.up.batchSize = 7;
    resized[0]!.description = "reworded";
    expect((await call(t, "status", resized)).drift).toEqual([]);
    const narrowed = defs();
    narrowed[0]!.up.customRange = '(q) => q.withIndex("by_creation_time")';
    expect((await call(t, "status", narrowed)).drift).toEqual([
      expect.objectContaining({ kind: "checksum_mismatch", id: narrowed[0]!.id, blocking: true }),
    ]);
  });
});

describe("repair", () => {
  async function applied(t: Deployment) {
    await seed(t);
    await call(t, "start", defs());
    await drain(t);
  }

  test("accepts an edit and a removal on the record, touching no data", async () => {
    const t = deployment();
    await applied(t);
    const hotfixed = defs().slice(0, 5);
    hotfixed[1]!.up.source = hotfixed[1]!.up.source.replace("fullName", "displayName");
    const before = { todos: await todos(t), versions: await versions(t) };
    expect((await call(t, "status", hotfixed)).drift.map((d: { kind: string }) => d.kind)).toEqual([
      "checksum_mismatch",
      "missing_from_manifest",
    ]);

    const result = await call(t, "repair", hotfixed, { release: { commit: "h0tf1x", initiatedBy: "ci" } });
    expect(result.status).toBe("repaired");
    const [edit, removal] = result.repaired;
    const shipped = engine.buildManifest({ migrations: hotfixed });
    expect(edit).toEqual({
      id: hotfixed[1]!.id,
      kind: "checksum_mismatch",
      oldChecksum: before.versions[1]!.checksum,
      oldForm: 2,
      newChecksum: shipped[1]!.checksum,
      newForm: 2,
      state: "completed",
    });
    expect(removal).toMatchObject({ id: defs()[5]!.id, kind: "missing_from_manifest", state: "removed" });

    const report = await call(t, "status", hotfixed);
    expect(report.drift).toEqual([]);
    expect(report.pending).toEqual([]);
    expect(report.recentRuns[0]).toMatchObject({
      kind: "repair",
      status: "succeeded",
      release: { commit: "h0tf1x", initiatedBy: "ci" },
      repaired: result.repaired,
      items: [],
    });
    expect(report.migrations.find((m: { id: string }) => m.id === defs()[5]!.id)).toMatchObject({ state: "removed", inManifest: false });
    expect(await todos(t)).toEqual(before.todos);
    expect((await versions(t))[1]).toMatchObject({ checksum: shipped[1]!.checksum, checksumForm: 2 });
    expect((await call(t, "start", hotfixed)).status).toBe("noop");
  });

  test("accepting an edit of a v1 record stores the deployed value with form 2", async () => {
    const t = deployment();
    await seed(t);
    const older = defs().slice(0, 1);
    const [entry] = engine.buildManifest({ migrations: older });
    await t.run(async (ctx) =>
      ctx.runMutation(fixtureRef("writeHistory"), {
        applied: [{ id: entry!.id, description: entry!.description, checksum: entry!.checksumV1 }],
        atMs: Date.now(),
      }),
    );
    const hotfixed = defs().slice(0, 1);
    hotfixed[0]!.up.source = hotfixed[0]!.up.source.replace("false", "true");
    const [shipped] = engine.buildManifest({ migrations: hotfixed });
    const result = await call(t, "repair", hotfixed);
    expect(result.repaired).toEqual([
      expect.objectContaining({ oldChecksum: entry!.checksumV1, oldForm: 1, newChecksum: shipped!.checksum, newForm: 2 }),
    ]);
    const [row] = await versions(t);
    expect(row).toMatchObject({ checksum: shipped!.checksum, checksumForm: 2 });
    expect(row!.checksum).toMatch(SHA256);
    expect((await call(t, "status", hotfixed)).drift).toEqual([]);
  });

  test("is refused while a run is active and writes nothing", async () => {
    const t = deployment();
    await seed(t);
    const running = await call(t, "start", defs());
    expect(running.status).toBe("running");
    const before = await versions(t);
    await expect(call(t, "repair", defs())).rejects.toThrow(`run ${running.runId} is active`);
    expect(await versions(t)).toEqual(before);
    expect((await call(t, "status", defs())).recentRuns.some((r: { kind?: string }) => r.kind === "repair")).toBe(false);
  });

  test("refuses an id with nothing to accept, naming it, and writes nothing", async () => {
    const t = deployment();
    await applied(t);
    const id = defs()[0]!.id;
    await expect(call(t, "repair", defs(), { ids: [id] })).rejects.toThrow(
      `migration "${id}" cannot be repaired: its deployed code matches the checksum on record`,
    );
    expect((await call(t, "status", defs())).recentRuns[0].kind).toBeUndefined();
  });

  test("the client's repair records the deployed checksum of the app's own manifest", async () => {
    const t = deployment();
    await seed(t);
    // The history as an earlier release of the app left it: a different migrateOne was applied.
    const older = defs().slice(0, 1);
    older[0]!.up.source = "async (ctx, doc) => ({ done: true })";
    await t.run(async (ctx) =>
      ctx.runMutation(fixtureRef("writeHistory"), {
        applied: engine
          .buildManifest({ migrations: older })
          .map((e) => ({ id: e.id, description: e.description, checksum: e.checksum, checksumForm: e.checksumForm })),
        atMs: Date.now(),
      }),
    );
    expect((await t.query(internal.migrate.status, {})).drift).toHaveLength(1);
    const result = await t.mutation(internal.migrate.repair, { ids: [older[0]!.id] });
    expect(result.status).toBe("repaired");
    const report = await t.query(internal.migrate.status, {});
    expect(report.drift).toEqual([]);
    expect(report.migrations[0]).toMatchObject({ storedChecksum: report.migrations[0]!.checksum, codeUnchanged: true, storedForm: 2 });
  });
});

describe("manifest order", () => {
  test("an unsorted manifest runs in id order", async () => {
    const t = deployment();
    await seed(t);
    const shuffled = [...defs()].reverse();
    const started = await call(t, "start", shuffled);
    const ids = defs().map((d) => d.id);
    expect(started.plan.map((p: { id: string }) => p.id)).toEqual(ids);
    await drain(t);
    const run = (await call(t, "status", shuffled)).recentRuns[0];
    expect(run.items.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual(ids.map((id) => [id, "completed"]));
  });

  test("duplicate and malformed ids are still refused, naming them", async () => {
    const t = deployment();
    const dup = [...defs(), defs()[2]!].reverse();
    await expect(call(t, "start", dup)).rejects.toThrow(`migration id "${defs()[2]!.id}" appears more than once`);
    const bad = [{ ...defs()[0]!, id: "2026_bad" }, ...defs()];
    await expect(call(t, "start", bad)).rejects.toThrow('migration id "2026_bad" is malformed');
  });
});

describe("raw steps", () => {
  test("a raw step in a module without batchRaw is refused at start with the export line, nothing written", async () => {
    const t = deployment();
    await t.run(async (ctx) => {
      await ctx.db.insert("users", { name: "Ada" });
    });
    const error = (await t.mutation(ref("rawWithoutExport:start"), {}).catch((e: unknown) => e)) as {
      data: { kind: string; message: string };
    };
    expect(error.data.kind).toBe("MISSING_EXPORT");
    expect(error.data.message).toContain(
      'Migration 20261112_090000_raw_without_export has an up step with writeMode: "raw", which runs through the batchRaw function, but rawWithoutExport.ts does not export it.',
    );
    expect(error.data.message).toContain(
      "export const { start, status, cancel, batch, batchRaw, repair } = migrations.versioned(manifest);",
    );
    expect(await versions(t)).toEqual([]);
    const users = await t.run(async (ctx) => ctx.db.query("users").collect());
    expect(users[0]!.email).toBeUndefined();
  });
});
