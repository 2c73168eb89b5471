/**
 * The rest of @convex-dev/migrations' exported surface, name for name, so
 * code and tests written against it keep compiling and running.
 */
import { vBatchArgs } from "../../../convex/batchContract.js";

/**
 * The arguments of a migration function, as validators: a hand-written
 * mutation that takes these and returns `{ continueCursor, isDone, processed }`
 * can be run by a runner like one made with `define()`.
 *
 * @example
 * ```ts
 * export const backfill = internalMutation({ args: migrationArgs, handler: async (ctx, args) => { ... } });
 * ```
 */
export const migrationArgs = {
  fn: vBatchArgs.fn,
  cursor: vBatchArgs.cursor,
  batchSize: vBatchArgs.batchSize,
  dryRun: vBatchArgs.dryRun,
  next: vBatchArgs.next,
  reset: vBatchArgs.reset,
  oneBatchOnly: vBatchArgs.oneBatchOnly,
};

/**
 * Whether a saved cursor is a convex-helpers `paginator` cursor (a JSON
 * array, written by @convex-dev/migrations 0.3.5 and later) rather than an
 * opaque `.paginate()` cursor. `null`, the start of a table, reads either way.
 *
 * @example
 * ```ts
 * isNewFormatCursor('[1719412234000,"k97d5ycbj3vgwcprmmxvmrm2dh7a5qhv"]'); // true
 * ```
 */
export function isNewFormatCursor(cursor: string | null): boolean {
  return cursor === null || cursor.startsWith("[");
}

type Syscalls = { asyncSyscall: (op: string, args: string) => Promise<string> };

async function syscall<T>(op: string): Promise<T> {
  const convex = (globalThis as { Convex?: Syscalls }).Convex;
  if (!convex) {
    throw new Error(`${op} is only available inside a Convex function; call it from a query, mutation or action.`);
  }
  return JSON.parse(await convex.asyncSyscall(op, JSON.stringify({}))) as T;
}

/**
 * The running function's name (`"migrations:setDefault"`) and component path.
 * Inside a handler, `ctx.meta.getFunctionMetadata()` says the same.
 *
 * @example
 * ```ts
 * const { name } = await getFunctionMetadata();
 * ```
 */
export async function getFunctionMetadata(): Promise<{ name: string; componentPath: string }> {
  return await syscall("1.0/getFunctionMetadata");
}

export type TransactionMetric = { used: number; remaining: number };
export type TransactionMetrics = {
  bytesRead: TransactionMetric;
  bytesWritten: TransactionMetric;
  databaseQueries: TransactionMetric;
  documentsRead: TransactionMetric;
  documentsWritten: TransactionMetric;
  functionsScheduled: TransactionMetric;
  scheduledFunctionArgsBytes: TransactionMetric;
};

/**
 * What the running transaction has used of each limit so far, and what
 * remains. Inside a handler, `ctx.meta.getTransactionMetrics()` says the same.
 *
 * @example
 * ```ts
 * const { documentsWritten } = await getTransactionMetrics();
 * ```
 */
export async function getTransactionMetrics(): Promise<TransactionMetrics> {
  return await syscall("1.0/getTransactionMetrics");
}
