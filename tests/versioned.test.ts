/**
 * Layer 2: versioned migrations through the example app's `migrate` module:
 * start statuses, drift, up and down, one active run, cancel and resume,
 * failure and fix, release records, context and triggers.
 */
import { createFunctionHandle } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { manifestDefs } from "../js-shim/src/client/versioned";
import { components, internal } from "../example/convex/_generated/api";
import { manifest } from "../example/convex/migrations/manifest";
import { deployment, drain, type Deployment, seedExampleApp as seed } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

type StartArgs = Parameters<Deployment["mutation"]>[1] & Record<string, unknown>;
const start = (t: Deployment, args: StartArgs = {}) => t.mutation(internal.migrate.start, args as never);
const status = (t: Deployment) => t.query(internal.migrate.status, {});

const ID = {
  done: "20261101_090000_backfill_todo_done",
  rename: "20261102_090000_rename_user_name",
  priority: "20261103_090000_narrow_todo_priority",
  notes: "20261104_090000_copy_notes_to_notes_v2",
  sessions: "20261105_090000_backup_and_delete_sessions",
  stale: "20261106_090000_flag_stale_open_todos",
};
const ALL = Object.values(ID);

/** Start against the component with a manifest that differs from the deployed one. */
async function startWithManifest(t: Deployment, defs: ReturnType<typeof manifestDefs>, args: Record<string, unknown> = {}) {
  return await t.run(async (ctx) =>
    ctx.runMutation(components.migrations.versioned.start, {
      ...args,
      manifest: defs,
      batchHandle: await createFunctionHandle(internal.migrate.batch),
    } as never),
  );
}

const table = <T extends "todos" | "users" | "notes" | "notesV2" | "sessions" | "sessionsBackup" | "writeCounts">(
  t: Deployment,
  name: T,
) => t.run(async (ctx) => await ctx.db.query(name).collect());

describe("start", () => {
  test("a step without a batch size starts at the engine's default of 100 documents", async () => {
    const t = deployment();
    await t.run(async (ctx) => {
      for (let i = 0; i < 250; i++) await ctx.db.insert("todos", { text: `todo ${i}` });
    });
    await start(t, { steps: 1 });
    const job = async () =>
      (await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [`${ID.done}:up`] })))[0];
    expect(await job()).toMatchObject({ batchSize: 100 });
    // One scheduled hop: the first batch.
    vi.runOnlyPendingTimers();
    await t.finishInProgressScheduledFunctions();
    expect(await job()).toMatchObject({ processed: 100, batches: 1 });
    await drain(t);
    expect((await table(t, "todos")).every((d) => d.done === false)).toBe(true);
  });

  test("up applies every pending migration in id order and keeps a release record", async () => {
    const t = deployment();
    await seed(t);
    const started = await start(t, {
      release: { environment: "staging", commit: "abc123", tag: "v1.2.0", initiatedBy: "ci", url: "https://ci/run/1" },
    });
    expect(started.status).toBe("running");
    expect(started.plan.map((p: { id: string }) => p.id)).toEqual(ALL);
    await drain(t);

    const s = await status(t);
    expect(s.activeRun).toBeNull();
    expect(s.pending).toEqual([]);
    expect(s.migrations.map((m: { state: string }) => m.state)).toEqual(Array(6).fill("completed"));
    const run = s.recentRuns[0]!;
    expect(run).toMatchObject({
      status: "succeeded",
      direction: "up",
      release: { environment: "staging", commit: "abc123", tag: "v1.2.0", initiatedBy: "ci", url: "https://ci/run/1" },
    });
    expect(run.endedAt).toBeGreaterThanOrEqual(run.startedAt);
    expect(run.items.map((i: { id: string }) => i.id)).toEqual(ALL);
    const first = run.items[0]!;
    expect(first).toMatchObject({ status: "completed", processed: 30 });
    expect(first.updated).toBe(20); // ten todos were already done
    expect(first.executionMs).toBeGreaterThanOrEqual(0);
    // Items ran one after another, in id order.
    for (let i = 1; i < run.items.length; i++) {
      expect(run.items[i]!.startedAt).toBeGreaterThanOrEqual(run.items[i - 1]!.endedAt!);
    }
  });

  test("a second start finds nothing to do", async () => {
    const t = deployment();
    await start(t);
    await drain(t);
    expect((await start(t)).status).toBe("noop");
  });

  test("a dry run returns the plan and writes nothing", async () => {
    const t = deployment();
    await seed(t);
    const before = await table(t, "todos");
    const result = await start(t, { dryRun: true });
    expect(result.status).toBe("dry_run");
    expect(result.plan).toHaveLength(6);
    await drain(t);
    expect(await table(t, "todos")).toEqual(before);
    const s = await status(t);
    expect(s.recentRuns).toEqual([]);
    expect(s.pending).toEqual(ALL);
  });

  test("a start while a run is active returns that run and starts nothing", async () => {
    const t = deployment();
    await seed(t);
    const first = await start(t);
    const second = await start(t);
    expect(second).toMatchObject({ status: "running", runId: first.runId, alreadyRunning: true });
    await drain(t);
    expect((await status(t)).recentRuns).toHaveLength(1);
    expect((await table(t, "notesV2")).length).toBe(5); // copied once, not twice
  });

  test("steps limits how many pending migrations up applies", async () => {
    const t = deployment();
    await start(t, { steps: 2 });
    await drain(t);
    expect((await status(t)).pending).toEqual(ALL.slice(2));
  });
});

describe("drift", () => {
  async function applied(t: Deployment) {
    await seed(t);
    await start(t);
    await drain(t);
  }

  test("an edited applied migration blocks as checksum_mismatch naming both checksums", async () => {
    const t = deployment();
    await applied(t);
    const defs = manifestDefs(manifest as never);
    const stored = (await status(t)).migrations[1]!.checksum;
    defs[1]!.up.source = defs[1]!.up.source.replace("fullName", "displayName");
    const result = await startWithManifest(t, defs);
    expect(result.status).toBe("drift_blocked");
    expect(result.drift).toEqual([
      expect.objectContaining({ kind: "checksum_mismatch", id: ID.rename, blocking: true, storedChecksum: stored }),
    ]);
    expect(result.drift[0]!.currentChecksum).not.toBe(stored);
    expect(result.drift[0]!.currentChecksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.drift[0]).toMatchObject({ storedForm: 2, currentForm: 2 });
  });

  test("a deleted applied migration blocks as missing_from_manifest", async () => {
    const t = deployment();
    await applied(t);
    const defs = manifestDefs(manifest as never).filter((d) => d.id !== ID.notes);
    const result = await startWithManifest(t, defs);
    expect(result.status).toBe("drift_blocked");
    expect(result.drift.map((d: { kind: string; id: string }) => [d.kind, d.id])).toEqual([
      ["missing_from_manifest", ID.notes],
    ]);
  });

  test("allowDrift proceeds and the run records that it did", async () => {
    const t = deployment();
    await seed(t);
    await start(t, { steps: 5 });
    await drain(t);
    const defs = manifestDefs(manifest as never);
    defs[1]!.up.source += " /* edited */";
    expect((await startWithManifest(t, defs)).status).toBe("drift_blocked");
    const result = await startWithManifest(t, defs, { allowDrift: true });
    expect(result).toMatchObject({ status: "running", driftAllowed: true });
    expect(result.plan.map((p: { id: string }) => p.id)).toEqual([ID.stale]);
    await drain(t);
    expect((await status(t)).recentRuns[0]).toMatchObject({ driftAllowed: true, status: "succeeded" });
  });

  test("out_of_order warns without strict and blocks under strict", async () => {
    const t = deployment();
    const defs = manifestDefs(manifest as never);
    const [first, ...rest] = defs;
    await startWithManifest(t, rest);
    await drain(t);
    const relaxed = await startWithManifest(t, defs, { dryRun: true });
    expect(relaxed.status).toBe("dry_run");
    expect(relaxed.drift).toEqual([expect.objectContaining({ kind: "out_of_order", id: first!.id, blocking: false })]);
    const strict = await startWithManifest(t, defs, { strict: true });
    expect(strict.status).toBe("drift_blocked");
    expect(strict.drift).toEqual([expect.objectContaining({ kind: "out_of_order", blocking: true })]);
  });
});

describe("down", () => {
  test("up, down --steps 1, up again: the newest migration is rolled back and re-applied", async () => {
    const t = deployment();
    await seed(t);
    await start(t);
    await drain(t);
    expect((await table(t, "todos")).filter((d) => d.stale).length).toBeGreaterThan(0);

    const down = await start(t, { direction: "down", steps: 1 });
    expect(down.plan.map((p: { id: string }) => p.id)).toEqual([ID.stale]);
    await drain(t);
    expect((await table(t, "todos")).filter((d) => d.stale !== undefined)).toEqual([]);
    const s = await status(t);
    expect(s.migrations.find((m: { id: string }) => m.id === ID.stale)!.state).toBe("rolled_back");
    expect(s.pending).toEqual([ID.stale]);

    await start(t);
    await drain(t);
    expect((await table(t, "todos")).filter((d) => d.stale).length).toBeGreaterThan(0);
    expect((await status(t)).pending).toEqual([]);
  });

  test("down --to rolls back everything applied after the id, newest first", async () => {
    const t = deployment();
    await seed(t);
    await start(t);
    await drain(t);
    const down = await start(t, { direction: "down", to: ID.priority });
    expect(down.plan.map((p: { id: string }) => p.id)).toEqual([ID.stale, ID.sessions, ID.notes]);
    await drain(t);
    expect(await table(t, "notesV2")).toEqual([]);
    expect((await table(t, "sessions")).length).toBe(4);
    expect(await table(t, "sessionsBackup")).toEqual([]);
    expect((await status(t)).pending).toEqual([ID.notes, ID.sessions, ID.stale]);
  });

  test("a migration without a down step cannot be rolled back: clear error, nothing changed", async () => {
    const t = deployment();
    await seed(t);
    await start(t, { steps: 1 });
    await drain(t);
    const before = await status(t);
    const todosBefore = await table(t, "todos");
    await expect(start(t, { direction: "down", steps: 1 })).rejects.toThrow(
      new RegExp(`${ID.done}.*no down step`),
    );
    expect(await status(t)).toEqual(before);
    expect(await table(t, "todos")).toEqual(todosBefore);
  });

  test("down needs exactly one of steps and to", async () => {
    const t = deployment();
    await expect(start(t, { direction: "down" })).rejects.toThrow(/steps or to/);
    await expect(start(t, { direction: "down", steps: 1, to: ID.done })).rejects.toThrow(/not both/);
    await expect(start(t, { direction: "down", steps: 0 })).rejects.toThrow(/at least 1/);
    await expect(start(t, { direction: "down", to: "20990101_000000_unknown" })).rejects.toThrow(/no migration has id/);
    expect((await status(t)).recentRuns).toEqual([]);
  });
});

describe("cancel, failure, resume", () => {
  test("cancel takes effect between batches and start resumes from the saved cursor", async () => {
    const t = deployment();
    await t.run(async (ctx) => {
      for (let i = 0; i < 450; i++) await ctx.db.insert("todos", { text: `t${i}` });
    });
    const run = await start(t, { steps: 1, batchSize: 100 });
    vi.runOnlyPendingTimers();
    await t.finishInProgressScheduledFunctions();
    const canceled = await t.mutation(internal.migrate.cancel, {});
    expect(canceled).toMatchObject({ canceled: true, runId: run.runId });
    await drain(t);
    const s = await status(t);
    expect(s.migrations[0]!.state).toBe("canceled");
    expect(s.recentRuns[0]!.status).toBe("canceled");
    expect((await table(t, "todos")).filter((d) => d.done === false).length).toBe(100);

    const resumed = await start(t, { steps: 1 });
    expect(resumed.plan[0]).toMatchObject({ id: ID.done, resume: true });
    await drain(t);
    expect((await table(t, "todos")).every((d) => d.done === false)).toBe(true);
    expect((await status(t)).migrations[0]!.state).toBe("completed");
  });

  test("a failed migration keeps its error; after a fix, start resumes it", async () => {
    const t = deployment();
    await seed(t);
    // A user with two different names makes the rename refuse that document.
    const bad = await t.run(async (ctx) => ctx.db.insert("users", { name: "Ada L", fullName: "Ada Lovelace" }));
    await start(t);
    await drain(t);
    const s = await status(t);
    expect(s.migrations.map((m: { state: string }) => m.state).slice(0, 3)).toEqual(["completed", "failed", "pending"]);
    expect(s.recentRuns[0]!.status).toBe("failed");
    expect(s.recentRuns[0]!.items[1]!.error).toContain(bad);

    await t.run(async (ctx) => ctx.db.patch(bad, { fullName: undefined }));
    const again = await start(t);
    expect(again.plan[0]).toMatchObject({ id: ID.rename, resume: true });
    await drain(t);
    expect((await status(t)).pending).toEqual([]);
    expect((await table(t, "users")).every((u) => u.name === undefined && typeof u.fullName === "string")).toBe(true);
  });
});

describe("context and writes", () => {
  test("writes go through the constructor's internalMutation, so triggers run", async () => {
    const t = deployment();
    await seed(t);
    await start(t, { steps: 1 });
    await drain(t);
    const counts = await table(t, "writeCounts");
    expect(counts.find((c) => c.table === "todos")?.count).toBe(20);
  });
});

describe("recipes", () => {
  test("each recipe leaves the data in its new shape", async () => {
    const t = deployment();
    await seed(t);
    await start(t);
    await drain(t);
    const todos = await table(t, "todos");
    expect(todos.every((d) => typeof d.done === "boolean")).toBe(true);
    expect(new Set(todos.map((d) => d.priority))).toEqual(new Set(["low", "high", "medium"]));
    expect(todos.filter((d) => d.priority === "medium").length).toBe(14); // "urgent!" became the default
    expect(todos.filter((d) => d.stale).every((d) => d.done === false && d.priority === "low")).toBe(true);
    expect((await table(t, "users")).map((u) => u.fullName)).toEqual(["Ada", "Grace", "Linus"]);
    const notes = await table(t, "notes");
    const copies = await table(t, "notesV2");
    expect(copies.map((c) => c.body).sort()).toEqual(notes.map((n) => n.body).sort());
    expect(await table(t, "sessions")).toEqual([]);
    expect((await table(t, "sessionsBackup")).map((s) => s.token).sort()).toEqual(["t0", "t1", "t2", "t3"]);
  });
});
