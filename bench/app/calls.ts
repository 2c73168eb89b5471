/**
 * Process-wide records of batch-function calls, kept on `globalThis` so the
 * benchmark reads what convex-test's module instances write. Only a
 * benchmark could keep state like this: convex-test runs every function in
 * this one process, a real deployment does not.
 */
export type CallKind = "batch" | "describe";

/** The five per-transaction limits a batch's share is taken of. */
export const DIMENSIONS = ["documentsRead", "bytesRead", "documentsWritten", "bytesWritten", "databaseQueries"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** One call of an app's batch function, as the benchmark saw it. */
export type BatchRecord = {
  kind: CallKind;
  /** `migrateOne` calls in it. */
  docs: number;
  /** Real milliseconds spent in `ctx.db.query(...)` reads (the page). */
  readMs: number;
  /** Real milliseconds of the whole call. */
  totalMs: number;
  /** The handler returned (its writes commit with it) rather than threw. */
  returned: boolean;
  /**
   * The most used limit's share at the end of the call, of the limits the
   * call ran under (used / (used + remaining)), and which limit it was.
   */
  share?: number;
  binding?: Dimension;
};

type Store = { counts: Record<CallKind, number>; batches: BatchRecord[]; current?: BatchRecord; clock?: () => number };
const KEY = "__convexMigrateBenchCalls";
const globals = globalThis as unknown as Record<typeof KEY, Store | undefined>;
const store = (): Store => (globals[KEY] ??= { counts: { batch: 0, describe: 0 }, batches: [] });

/**
 * The real clock. The benchmark installs it before fake timers replace
 * `performance` (see bench/scenarios.ts); module code loaded later by
 * convex-test would otherwise read the fake one.
 */
export function setClock(clock: () => number) {
  store().clock = clock;
}

export function now(): number {
  return (store().clock ?? (() => performance.now()))();
}

/** A batch call begins; `migrateOne` calls until it ends count toward it. */
export function beginCall(kind: CallKind): BatchRecord {
  const s = store();
  s.counts[kind] += 1;
  const record: BatchRecord = { kind, docs: 0, readMs: 0, totalMs: 0, returned: false };
  s.batches.push(record);
  s.current = record;
  return record;
}

/** One `migrateOne` call, in whichever batch is running. */
export function countDoc() {
  const current = store().current;
  if (current) current.docs += 1;
}

/** Calls since the last take, by kind, and each call's record. */
export function takeCalls(): { counts: Record<CallKind, number>; batches: BatchRecord[] } {
  const s = store();
  const taken = { counts: s.counts, batches: s.batches };
  s.counts = { batch: 0, describe: 0 };
  s.batches = [];
  s.current = undefined;
  return taken;
}
