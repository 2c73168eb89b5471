/**
 * The same migration defined with both tools: each increments `counter`.
 * Every batch call goes through `counted`, so the benchmark can tell how many
 * batches each tool ran without reading either tool's internals.
 */
import { Migrations as PeerMigrations } from "@convex-dev/migrations";
import type { MutationBuilder } from "convex/server";
import { Migrations } from "convex-migrate";
import { components } from "./_generated/api.js";
import type { DataModel, Doc } from "./_generated/dataModel.js";
import { internalMutation } from "./_generated/server.js";
import { countCall } from "../calls.js";

/**
 * The app's `internalMutation` with each call counted: both tools build
 * their batch functions with it. Ours also calls its function once with
 * `{ describe: true }` to learn the table's bounds; that is counted apart.
 */
const counted = ((definition: { handler: (ctx: unknown, args: Record<string, unknown>) => unknown }) =>
  internalMutation({
    ...definition,
    handler: (ctx: unknown, args: Record<string, unknown>) => {
      countCall(args.describe === true ? "describe" : "batch");
      return definition.handler(ctx, args);
    },
  } as never)) as unknown as MutationBuilder<DataModel, "internal">;

const ours = new Migrations<DataModel>(components.migrations, { internalMutation: counted });
const peer = new PeerMigrations<DataModel>(components.peerMigrations, { internalMutation: counted });

const migrateOne = (_ctx: unknown, doc: Doc<"docs">) => ({ counter: (doc.counter ?? 0) + 1 });

/** Scenario 1: a fixed batch size of 100 for both. */
export const oursFixed = ours.define({ table: "docs", batchSize: 100, maxBatchSize: 100, migrateOne });
export const peerFixed = peer.define({ table: "docs", batchSize: 100, migrateOne });

/** Scenarios 2 and 3: each tool at its defaults. */
export const oursDefault = ours.define({ table: "docs", migrateOne });
export const peerDefault = peer.define({ table: "docs", migrateOne });

/** Generic runners: `{ fn: "bench:oursFixed" }` and so on. */
export const runOurs = ours.runner();
export const runPeer = peer.runner();
