/**
 * The same migration defined with both tools: each increments `counter`.
 * Every batch call goes through `counted`, so the benchmark can tell, without
 * reading either tool's internals, how many batches each tool ran, how many
 * documents each took, how long its page reads took and what share of its
 * transaction limits it used.
 */
import { Migrations as PeerMigrations } from "@convex-dev/migrations";
import type { MutationBuilder } from "convex/server";
import { Migrations } from "convex-migrate";
import { components } from "./_generated/api.js";
import type { DataModel, Doc } from "./_generated/dataModel.js";
import { internalMutation } from "./_generated/server.js";
import { beginCall, countDoc, DIMENSIONS, now, type BatchRecord } from "../calls.js";

type Metrics = Record<string, { used: number; remaining: number } | undefined>;
type Ctx = { db: object; meta?: { getTransactionMetrics?: () => Promise<Metrics> } };

/** Query-builder methods whose result is still a query to wrap; anything else is a read. */
const CHAIN = new Set(["withIndex", "withSearchIndex", "fullTableScan", "order", "filter", "limit"]);

/**
 * A query whose every call (building it, `first`, `take`, `paginate`, async
 * iteration...) adds its time to `record`: convex-test reads and sorts the
 * table when a query starts, which may happen in a synchronous call.
 */
function timedQuery(query: object, record: BatchRecord): object {
  return new Proxy(query, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === Symbol.asyncIterator) {
        return () => {
          const created = now();
          const iterator = (value as () => AsyncIterator<unknown>).call(target);
          record.readMs += now() - created;
          return {
            next: async () => {
              const started = now();
              try {
                return await iterator.next();
              } finally {
                record.readMs += now() - started;
              }
            },
            return: async (v?: unknown) => (await iterator.return?.(v)) ?? { done: true, value: v },
            [Symbol.asyncIterator]() {
              return this;
            },
          };
        };
      }
      return (...args: unknown[]) => {
        const started = now();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) return result.finally(() => (record.readMs += now() - started));
        record.readMs += now() - started;
        return typeof prop === "string" && CHAIN.has(prop) ? timedQuery(result as object, record) : result;
      };
    },
  });
}

/** The handler's `ctx` with `db.query` timed; everything else untouched. */
function timedCtx(ctx: Ctx, record: BatchRecord): Ctx {
  const db = new Proxy(ctx.db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === "query") {
        return (table: string) => {
          const started = now();
          const query = (value as (t: string) => object).call(target, table);
          record.readMs += now() - started;
          return timedQuery(query, record);
        };
      }
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return new Proxy(ctx, { get: (target, prop) => (prop === "db" ? db : Reflect.get(target, prop, target)) });
}

/** The most used of the five limits, as a share of what the call may use. */
async function bindingShare(ctx: Ctx, record: BatchRecord) {
  const metrics = await ctx.meta?.getTransactionMetrics?.();
  if (!metrics) return;
  for (const dimension of DIMENSIONS) {
    const m = metrics[dimension];
    if (!m || m.used + m.remaining <= 0) continue;
    const share = m.used / (m.used + m.remaining);
    if (record.share === undefined || share > record.share) {
      record.share = share;
      record.binding = dimension;
    }
  }
}

/**
 * The app's `internalMutation` with each call recorded: both tools build
 * their batch functions with it. Ours also calls its function once with
 * `{ describe: true }` to learn the table's bounds; that is counted apart.
 */
const counted = ((definition: { handler: (ctx: unknown, args: Record<string, unknown>) => unknown }) =>
  internalMutation({
    ...definition,
    handler: async (ctx: Ctx, args: Record<string, unknown>) => {
      const record = beginCall(args.describe === true ? "describe" : "batch");
      const started = now();
      try {
        const result = await definition.handler(timedCtx(ctx, record), args);
        record.returned = true;
        await bindingShare(ctx, record);
        return result;
      } finally {
        record.totalMs = now() - started;
      }
    },
  } as never)) as unknown as MutationBuilder<DataModel, "internal">;

const ours = new Migrations<DataModel>(components.migrations, { internalMutation: counted });
const peer = new PeerMigrations<DataModel>(components.peerMigrations, { internalMutation: counted });

const migrateOne = (_ctx: unknown, doc: Doc<"docs">) => {
  countDoc();
  return { counter: (doc.counter ?? 0) + 1 };
};

/** Scenario 1: a fixed batch size of 100 for both. */
export const oursFixed = ours.define({ table: "docs", batchSize: 100, maxBatchSize: 100, migrateOne });
export const peerFixed = peer.define({ table: "docs", batchSize: 100, migrateOne });

/** Scenarios 2 and 3: each tool at its defaults. */
export const oursDefault = ours.define({ table: "docs", migrateOne });
export const peerDefault = peer.define({ table: "docs", migrateOne });

/** Ours at its defaults over four `_creationTime` ranges (the peer has no workers). */
export const oursWorkers = ours.define({ table: "docs", workers: 4, migrateOne });

/** Generic runners: `{ fn: "bench:oursFixed" }` and so on. */
export const runOurs = ours.runner();
export const runPeer = peer.runner();
