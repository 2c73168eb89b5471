/**
 * The side-by-side scenarios, shared by the benchmark (bench/side-by-side.ts)
 * and its smoke test (tests/bench-smoke.test.ts): one convex-test deployment
 * of bench/app with both tools mounted and Convex's transaction limits
 * enforced, the same documents and the same `migrateOne` for both.
 *
 * Needs vitest (import.meta.glob, fake timers); callers turn fake timers on.
 */
import { convexTest } from "convex-test";
import { register } from "convex-migrate/test";
import { vi } from "vitest";
import { setClock, takeCalls, type BatchRecord, type CallKind, type Dimension } from "./app/calls";
import { engineCalls } from "../js-shim/src/engine";
import { components, internal } from "./app/convex/_generated/api";
import schema from "./app/convex/schema";

const modules = import.meta.glob("./app/convex/**/*.ts");

// The peer's component as its package ships it (what its own
// `@convex-dev/migrations/test` registers, built from dist/ so no transform of
// its TypeScript sources is needed).
const peerModules = import.meta.glob("../node_modules/@convex-dev/migrations/dist/component/**/*.js");
const PEER_SCHEMA = "../node_modules/@convex-dev/migrations/dist/component/schema.js";
const peerSchema = async () => ((await peerModules[PEER_SCHEMA]!()) as { default: AnySchema }).default;
type AnySchema = Parameters<ReturnType<typeof convexTest>["registerComponent"]>[1];

/** The real clock, taken before any test installs fake timers (they fake `performance` too). */
const realNow = performance.now.bind(performance);

setClock(realNow);

/** Milliseconds on the real clock. */
export function now(): number {
  return realNow();
}

/** Which tool runs: convex-migrate, or @convex-dev/migrations 0.3.6. */
export type Tool = "ours" | "peer";

/** The bench app's migrations: a fixed batch of 100, or each tool's defaults. */
export type Variant = "fixed" | "default" | "workers";

/** A fresh deployment with both components and Convex's limits enforced. */
export async function deployment() {
  const t = convexTest({ schema, modules, transactionLimits: true });
  register(t, "migrations");
  t.registerComponent("peerMigrations", await peerSchema(), peerModules);
  return t;
}

export type Deployment = Awaited<ReturnType<typeof deployment>>;

/** convex-test runs a handler inside a component; not in its published types. */
type RunInComponent = <T>(
  componentPath: string,
  handler: (ctx: { db: { system: { query: (table: "_scheduled_functions") => { collect: () => Promise<ScheduledJob[]> } } } }) => Promise<T>,
) => Promise<T>;
type ScheduledJob = { name: string; args: unknown[]; state: { kind: string } };

/** Bytes per document in a transaction's budget when seeding. */
const SEED_BYTES_PER_TRANSACTION = 8 * 1024 * 1024;
const SEED_DOCS_PER_TRANSACTION = 8_000;

/** Insert `count` documents whose `body` is `bodyBytes` long, in transactions that fit the limits. */
export async function seed(t: Deployment, count: number, bodyBytes = 0) {
  const body = "x".repeat(bodyBytes);
  const perTx = Math.max(1, Math.min(SEED_DOCS_PER_TRANSACTION, Math.floor(SEED_BYTES_PER_TRANSACTION / (bodyBytes + 100))));
  for (let done = 0; done < count; done += perTx) {
    const n = Math.min(perTx, count - done);
    await t.run(async (ctx) => {
      for (let i = 0; i < n; i++) await ctx.db.insert("docs", { body });
    });
  }
}

/** How many documents carry each `counter` value (undefined counts as 0). */
export async function counters(t: Deployment, bodyBytes = 0): Promise<Record<number, number>> {
  const numItems = Math.max(1, Math.min(4_000, Math.floor(SEED_BYTES_PER_TRANSACTION / (bodyBytes + 100))));
  const histogram: Record<number, number> = {};
  let cursor: string | null = null;
  for (;;) {
    const page: { page: { counter?: number }[]; isDone: boolean; continueCursor: string } = await t.run(
      async (ctx) => await ctx.db.query("docs").paginate({ cursor, numItems }),
    );
    for (const d of page.page) histogram[d.counter ?? 0] = (histogram[d.counter ?? 0] ?? 0) + 1;
    if (page.isDone) return histogram;
    cursor = page.continueCursor;
  }
}

/** What one tool did on one run of one scenario. */
export type Outcome = {
  tool: Tool;
  /** Wall time from the runner call to the end of the last scheduled hop. */
  ms: number;
  /**
   * CPU time of this process over the same span (user + system, every
   * thread): what the tool itself cost, less exposed than wall time to
   * other work on a shared machine.
   */
  cpuMs: number;
  /** The tool's own status after the run. */
  state: string;
  processed: number;
  error?: string;
  /** The runner call itself threw (the peer runs its first batch inside it). */
  runnerThrew: boolean;
  /** Calls of the app's batch function: batches, and (ours only) the one call that describes the table. */
  batchCalls: Record<CallKind, number>;
  /** Real milliseconds the batches spent reading pages (`ctx.db.query` reads), rolled-back ones included. */
  paginationMs: number;
  /** Batches that threw and rolled back (a limit hit, a failing document). */
  rolledBackBatches: number;
  /** Documents per committed batch (one batch per transaction). */
  docsPerBatch: { mean: number; max: number };
  /**
   * Share of the binding limit the steady-state batches used (those from
   * the first at the largest size on, but a short last one), of the limits
   * each batch ran under; and the limit that bound most often.
   */
  bindingShare?: { min: number; median: number; max: number; limit: Dimension };
  /** Scheduled hops per chain, one chain per worker (ours) or the one chain (the peer). */
  hopsPerChain: number[];
  /** Scheduled functions the tool ran, one after another (each its own transaction). */
  scheduledHops: number;
  /** Top-level transactions: the runner call plus every scheduled hop. */
  transactions: number;
  /** Our adaptive batch size at the end (the peer's is fixed). */
  finalBatchSize?: number;
  /** Calls into our engine from the runner call to the last hop (ours only), and per batch. */
  engineCalls?: { total: number; perBatch: number };
};

const NAMES: Record<Tool, Record<Variant, string>> = {
  ours: { fixed: "bench:oursFixed", default: "bench:oursDefault", workers: "bench:oursWorkers" },
  peer: { fixed: "bench:peerFixed", default: "bench:peerDefault", workers: "bench:peerDefault" },
};

const COMPONENT: Record<Tool, "migrations" | "peerMigrations"> = { ours: "migrations", peer: "peerMigrations" };

/** Run one tool's migration to its end on a seeded deployment and measure it. */
export async function migrate(t: Deployment, tool: Tool, variant: Variant): Promise<Outcome> {
  const name = NAMES[tool][variant];
  takeCalls();
  const callsBefore = engineCalls();
  const runner = tool === "ours" ? internal.bench.runOurs : internal.bench.runPeer;
  const started = now();
  const cpuBefore = process.cpuUsage();
  let runnerError: string | undefined;
  try {
    await t.mutation(runner, { fn: name });
  } catch (error) {
    // The peer runs its first batch inside the runner call: a limit error surfaces here.
    runnerError = error instanceof Error ? error.message : String(error);
  }
  await t.finishAllScheduledFunctions(vi.runAllTimers, 10_000_000);
  const ms = now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const calls = engineCalls() - callsBefore;
  const { counts: batchCalls, batches } = takeCalls();

  const status = (await t.run(async (ctx) =>
    tool === "ours"
      ? await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] })
      : await ctx.runQuery(components.peerMigrations.lib.getStatus, { names: [name] }),
  )) as { state: string; processed: number; error?: string; batchSize?: number }[];
  const row = status[0]!;
  const jobs = await (t as unknown as { runInComponent: RunInComponent }).runInComponent(
    COMPONENT[tool],
    async (ctx) => await ctx.db.system.query("_scheduled_functions").collect(),
  );
  const ran = jobs.filter((j) => j.state.kind === "success" || j.state.kind === "failed");
  const scheduledHops = ran.length;
  // Our hops carry their worker's id; the peer's chain is its one migration.
  const chains = new Map<string, number>();
  for (const job of ran) {
    // A hop names its worker by the migration and the worker's index (hops
    // scheduled by earlier versions named the worker row).
    const hopArgs = job.args[0] as { worker?: string; migration?: string; index?: number } | undefined;
    const worker =
      hopArgs?.worker ??
      (hopArgs?.migration !== undefined ? `${hopArgs.migration}:${hopArgs.index ?? 0}` : tool === "peer" ? "peer" : undefined);
    if (worker !== undefined) chains.set(worker, (chains.get(worker) ?? 0) + 1);
  }
  const error = row.error ?? runnerError;
  return {
    tool,
    ms,
    cpuMs,
    state: row.state === "unknown" && runnerError ? "failed" : row.state,
    processed: row.processed,
    ...(error ? { error } : {}),
    runnerThrew: runnerError !== undefined,
    batchCalls,
    ...batchFigures(batches),
    hopsPerChain: [...chains.values()].sort((a, b) => b - a),
    scheduledHops,
    transactions: 1 + scheduledHops,
    ...(tool === "ours" && row.batchSize !== undefined ? { finalBatchSize: row.batchSize } : {}),
    ...(tool === "ours" && batches.length > 0
      ? { engineCalls: { total: calls, perBatch: Math.round((calls / batches.length) * 100) / 100 } }
      : {}),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-batch figures from the records of one run. */
function batchFigures(records: BatchRecord[]): Pick<Outcome, "paginationMs" | "rolledBackBatches" | "docsPerBatch" | "bindingShare"> {
  const batches = records.filter((r) => r.kind === "batch");
  const committed = batches.filter((r) => r.returned);
  const docs = committed.map((r) => r.docs);
  const total = docs.reduce((a, b) => a + b, 0);
  const largest = Math.max(0, ...docs);
  const first = committed.findIndex((r) => r.docs === largest);
  const steady = committed.slice(first).filter((r, i, all) => i < all.length - 1 || r.docs === largest);
  const shares = steady.flatMap((r) => (r.share === undefined ? [] : [r.share]));
  const limits = new Map<Dimension, number>();
  for (const r of steady) if (r.binding) limits.set(r.binding, (limits.get(r.binding) ?? 0) + 1);
  const limit = [...limits.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    paginationMs: batches.reduce((sum, r) => sum + r.readMs, 0),
    rolledBackBatches: batches.length - committed.length,
    docsPerBatch: { mean: committed.length ? Math.round(total / committed.length) : 0, max: largest },
    ...(shares.length && limit
      ? { bindingShare: { min: round(Math.min(...shares)), median: round(median(shares)), max: round(Math.max(...shares)), limit } }
      : {}),
  };
}
