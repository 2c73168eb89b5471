/**
 * The drop-in status row of one migration, from its workers' states as the
 * engine summarizes them. Reads O(workers) rows; never touches app tables.
 */
import * as engine from "../js-shim/src/engine.js";
import type { Doc } from "./_generated/dataModel.js";
import type { QueryCtx } from "./_generated/server.js";
import { isPeerRow, peerWorkers } from "./peer.js";
import { picksOwnSize, withHops, workersOf } from "./store.js";
import type { MigrationStatus } from "./validators.js";

export async function statusOf(ctx: QueryCtx, migration: Doc<"migrations">): Promise<MigrationStatus> {
  const workers = isPeerRow(migration) ? await peerWorkers(ctx, migration) : await workersOf(ctx, migration._id);
  workers.sort((a, b) => a.index - b.index);
  const summary = engine.summarize({ workers: workers.map((w) => w.state), nowMs: Date.now(), ownSize: picksOwnSize(migration) });
  const state = summary.dropInState;
  const view = engine.jobView({ workers: await withHops(ctx, workers) });
  // A running worker whose last hop died whole has recorded nothing yet; the
  // hop's error is the status's error until the next start records it.
  const error = summary.error ?? (view.deadHop !== undefined ? { message: view.deadHop, documentId: undefined } : undefined);
  const stalled = view.stalled;
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
    // No size for a function that picks its own, until the engine sends one.
    ...(summary.progress.ownSize ? {} : { batchSize: summary.progress.batchSize }),
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

/** The row for a name that was never run (the peer answers the same way). */
export function neverRun(name: string): MigrationStatus {
  const { dropInState } = engine.summarize({ workers: [], nowMs: 0 });
  return { name, cursor: null, processed: 0, isDone: false, state: dropInState, latestStart: 0 };
}
