/**
 * The drop-in status row of one migration, from its workers' states as the
 * engine summarizes them. Reads O(workers) rows; never touches app tables.
 */
import * as engine from "../js-shim/src/engine.js";
import type { Doc } from "./_generated/dataModel.js";
import type { QueryCtx } from "./_generated/server.js";
import { deadHopError, isStalled, workersOf } from "./jobs.js";
import { isPeerRow, peerWorkers } from "./peer.js";
import type { MigrationStatus } from "./validators.js";

/** The drop-in vocabulary for the engine's aggregate worker status. */
const DROP_IN_STATE = {
  inProgress: "inProgress",
  success: "success",
  failed: "failed",
  canceled: "canceled",
  paused: "unknown",
} as const;

export async function statusOf(ctx: QueryCtx, migration: Doc<"migrations">): Promise<MigrationStatus> {
  const workers = isPeerRow(migration) ? await peerWorkers(ctx, migration) : await workersOf(ctx, migration._id);
  workers.sort((a, b) => a.index - b.index);
  const summary = engine.summarize({ workers: workers.map((w) => w.state), nowMs: Date.now() });
  const state = workers.length === 0 ? "unknown" : DROP_IN_STATE[summary.status];
  const error = summary.error ?? (await deadHopFailure(ctx, workers));
  const stalled = (await Promise.all(workers.map((w) => isStalled(ctx, w)))).some(Boolean);
  return {
    name: migration.name,
    cursor: migration.isDone ? null : (summary.cursor ?? null),
    processed: summary.progress.processed,
    isDone: migration.isDone,
    ...(error ? { error: error.message } : {}),
    ...(error?.documentId ? { failedDocumentId: error.documentId } : {}),
    state,
    ...(stalled ? { stalled: true } : {}),
    latestStart: migration.latestStart,
    ...(migration.latestEnd !== undefined ? { latestEnd: migration.latestEnd } : {}),
    // A peer-protocol function uses its own default size unless one was given.
    ...(migration.protocol === "peer"
      ? migration.fixedBatchSize !== undefined
        ? { batchSize: migration.fixedBatchSize }
        : {}
      : { batchSize: summary.progress.batchSize }),
    ...(migration.next ? { next: migration.next.map((n) => n.name) } : {}),
    updated: summary.progress.updated,
    batches: summary.progress.batches,
    ratePerSec: summary.progress.ratePerSec,
    elapsedMs: summary.progress.elapsedMs,
    estimate: summary.estimate,
    ...(workers.length > 1
      ? {
          workers: workers.map((w) => ({
            index: w.index,
            status: w.state.status,
            processed: w.state.processed,
            batchSize: w.state.batchSize,
            ...(w.state.range ? { range: w.state.range } : {}),
          })),
        }
      : {}),
  };
}

/**
 * A running worker whose last hop died whole has recorded nothing yet; its
 * hop's error is the status's error until the next start records it.
 */
export async function deadHopFailure(ctx: QueryCtx, workers: Doc<"workers">[]) {
  for (const w of workers) {
    if (w.state.status !== "inProgress") continue;
    const died = await deadHopError(ctx, w.scheduledId);
    if (died !== undefined) {
      const why = died.message ?? "its scheduled function failed, with no error text kept";
      return { message: `its last batch died and recorded nothing: ${why}. Start it again to record the failure.`, documentId: undefined };
    }
  }
  return undefined;
}

/** The row for a name that was never run (the peer answers the same way). */
export function neverRun(name: string): MigrationStatus {
  return { name, cursor: null, processed: 0, isDone: false, state: "unknown", latestStart: 0 };
}
