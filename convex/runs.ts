/**
 * Executes a versioned run: the engine's run machine decides which migration
 * comes next and when the run ends; this file starts each migration's
 * workers, keeps the per-migration records and the release record.
 */
import * as engine from "../js-shim/src/engine.js";
import type { RunAction } from "../js-shim/src/engine-types/RunAction.js";
import type { RunEvent } from "../js-shim/src/engine-types/RunEvent.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { MutationCtx, QueryCtx } from "./_generated/server.js";
import { defaultsFrom, describe, migrationByName, startWorkers, workersOf } from "./jobs.js";

/** The name of the job row of one versioned migration in one direction. */
export const jobName = (migrationId: string, direction: "up" | "down") => `${migrationId}:${direction}`;

export async function activeRun(ctx: QueryCtx) {
  return await ctx.db
    .query("runs")
    .withIndex("active", (q) => q.eq("active", true))
    .first();
}

export async function versionRecord(ctx: QueryCtx, migrationId: string) {
  return await ctx.db
    .query("versions")
    .withIndex("migrationId", (q) => q.eq("migrationId", migrationId))
    .unique();
}

/** Feed one event to a run, store it, and carry out the action. */
export async function stepRun(ctx: MutationCtx, run: Doc<"runs">, event: RunEvent) {
  const t = engine.runStep({ state: run.state, event });
  await ctx.db.patch(run._id, { state: t.state, active: t.state.status === "running" });
  const updated = { ...run, state: t.state };
  await carryOut(ctx, updated, t.action);
  return updated;
}

async function carryOut(ctx: MutationCtx, run: Doc<"runs">, action: RunAction) {
  if (action.type !== "startItem") return;
  const direction = action.direction as "up" | "down";
  const planned = run.planned.find((p) => p.id === action.id);
  const name = jobName(action.id, direction);
  const raw = (run.rawSteps ?? []).includes(name);
  const fnHandle = raw && run.rawBatchHandle ? run.rawBatchHandle : run.batchFnHandle;
  const existing = await migrationByName(ctx, name);
  const versioned = { run: run._id, migrationId: action.id, direction };
  const migrationId = existing
    ? (await ctx.db.patch(existing._id, { fnHandle, versioned, isDone: false, latestStart: Date.now(), latestEnd: undefined }),
      existing._id)
    : await ctx.db.insert("migrations", {
        name,
        kind: "versioned",
        fnHandle,
        isDone: false,
        latestStart: Date.now(),
        parallelism: 1,
        versioned,
      });
  const migration = (await ctx.db.get(migrationId))!;
  const record = await versionRecord(ctx, action.id);
  const fields = {
    description: planned?.description ?? record?.description ?? "",
    state: "running" as const,
    checksum: planned?.checksum ?? record?.checksum ?? "",
    // The form travels with the value it describes; none (form 1) unsets it.
    checksumForm: planned ? planned.checksumForm : record?.checksumForm,
    lastDirection: direction,
    lastRun: run._id,
    updatedAt: Date.now(),
  };
  if (record) await ctx.db.patch(record._id, fields);
  else await ctx.db.insert("versions", { migrationId: action.id, ...fields });

  const described = await describe(ctx, fnHandle, { migrationId: action.id, direction, runId: run._id });
  await startWorkers(ctx, migration, {
    ...defaultsFrom(described),
    ...(run.batchSize !== undefined ? { batchSize: run.batchSize } : {}),
    reset: !(planned?.resume ?? false),
  });
}

/**
 * A versioned migration's workers settled: update its record and tell the
 * run, which starts the next migration or ends.
 */
export async function settleItem(
  ctx: MutationCtx,
  migration: Doc<"migrations">,
  outcome: "success" | "failed" | "canceled",
  message?: string,
) {
  if (!migration.versioned) return;
  const { run: runId, migrationId, direction } = migration.versioned;
  const run = await ctx.db.get(runId);
  if (!run || run.state.status !== "running") return;
  const current = run.state.current !== undefined ? run.state.items[run.state.current] : undefined;
  if (!current || current.id !== migrationId) return;

  const record = await versionRecord(ctx, migrationId);
  if (record) {
    const now = Date.now();
    const state =
      outcome === "success" ? (direction === "up" ? "completed" : "rolled_back") : outcome;
    await ctx.db.patch(record._id, {
      state,
      updatedAt: now,
      ...(outcome === "success" && direction === "up" ? { appliedAt: now } : {}),
      ...(outcome === "success" && direction === "down" ? { rolledBackAt: now } : {}),
    });
  }
  const workers = await workersOf(ctx, migration._id);
  const summary = engine.summarize({ workers: workers.map((w) => w.state), nowMs: Date.now() });
  const counts = { nowMs: Date.now(), processed: summary.progress.processed, updated: summary.progress.updated };
  const event: RunEvent =
    outcome === "success"
      ? { type: "itemFinished", ...counts }
      : outcome === "failed"
        ? { type: "itemFailed", ...counts, message: message ?? summary.error?.message ?? "failed" }
        : { type: "cancelRequested", ...counts };
  await stepRun(ctx, run, event);
}

export type RunId = Id<"runs">;
