/**
 * Process-wide counts of batch-function calls, kept on `globalThis` so the
 * benchmark reads the counters convex-test's module instances write. Only a
 * benchmark could keep state like this: convex-test runs every function in
 * this one process, a real deployment does not.
 */
export type CallKind = "batch" | "describe";

const KEY = "__convexMigrateBenchCalls";
const store = globalThis as unknown as Record<typeof KEY, Record<CallKind, number> | undefined>;

export function countCall(kind: CallKind) {
  const counts = (store[KEY] ??= { batch: 0, describe: 0 });
  counts[kind] += 1;
}

/** Calls since the last take, by kind. */
export function takeCalls(): Record<CallKind, number> {
  const counts = store[KEY] ?? { batch: 0, describe: 0 };
  store[KEY] = { batch: 0, describe: 0 };
  return counts;
}
