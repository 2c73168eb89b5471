/**
 * Executes a versioned run: the engine's run machine decides which migration
 * comes next and when the run ends; this file starts each migration's job
 * and feeds back what the job reports when it settles.
 */
import * as engine from "../js-shim/src/engine.js";
import type { RunAction } from "../js-shim/src/engine-types/RunAction.js";
import type { RunEvent } from "../js-shim/src/engine-types/RunEvent.js";
import type { Doc, Id } from "./_generated/dataModel.js";
import type { MutationCtx } from "./_generated/server.js";
import { defaultsFrom, describe, startJob } from "./jobs.js";
import { jobName, migrationByName } from "./store.js";

/** Feed one event to a run, store it, and carry out the action. */
export async function stepRun(ctx: MutationCtx, run: Doc<"runs">, event: RunEvent, item?: string) {
  const t = engine.runStep({ state: run.state, event, ...(item !== undefined ? { item } : {}) });
  await ctx.db.patch(run._id, { state: t.state, active: t.active });
  const updated = { ...run, state: t.state };
  await carryOut(ctx, updated, t.action);
  return updated;
}

async function carryOut(ctx: MutationCtx, run: Doc<"runs">, action: RunAction) {
  if (action.type !== "startItem") return;
  const direction = action.direction;
  const planned = run.planned.find((p) => p.id === action.id);
  const name = jobName(action.id, direction);
  const raw = (run.rawSteps ?? []).includes(name);
  const fnHandle = raw && run.rawBatchHandle ? run.rawBatchHandle : run.batchFnHandle;
  const existing = await migrationByName(ctx, name);
  // What the run planned travels with the job: its batches carry the
  // checksum, and its version record takes all of it when the job reports.
  const versioned = {
    run: run._id,
    migrationId: action.id,
    direction,
    ...(planned
      ? {
          checksum: planned.checksum,
          ...(planned.checksumForm !== undefined ? { checksumForm: planned.checksumForm } : {}),
          description: planned.description,
        }
      : {}),
  };
  const migrationId = existing
    ? (await ctx.db.patch(existing._id, { fnHandle, versioned }), existing._id)
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
  const described = await describe(ctx, fnHandle, { migrationId: action.id, direction, runId: run._id });
  await startJob(
    ctx,
    migration,
    {
      ...defaultsFrom(described),
      ...(run.batchSize !== undefined ? { batchSize: run.batchSize } : {}),
      reset: !(planned?.resume ?? false),
    },
    reportToRun,
  );
}

/**
 * A versioned migration settled and reports to its run, which starts the
 * next migration or ends. A report from a migration the run no longer runs
 * changes nothing (the engine judges).
 */
export async function reportToRun(ctx: MutationCtx, migration: Doc<"migrations">, event: RunEvent) {
  const item = migration.versioned;
  const run = item ? await ctx.db.get(item.run) : null;
  if (!item || !run) return;
  await stepRun(ctx, run, event, item.migrationId);
}

export type RunId = Id<"runs">;
