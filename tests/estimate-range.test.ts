/**
 * Percent done for a `customRange` walk. Over an index whose key is a number
 * (a timestamp such as `updatedAt`) the estimate is the walk's position
 * along that key between the range's first and last key, read when the walk
 * begins; over a string key there is none rather than a wrong one.
 *
 * The app here is the example app plus an `events` table whose documents
 * are inserted in an order unrelated to their `updatedAt`, so a figure that
 * followed `_creationTime` instead of the index key would be visibly off.
 */
import { convexTest } from "convex-test";
import { Migrations } from "convex-migrate";
import { register } from "convex-migrate/test";
import { defineSchema, defineTable, makeFunctionReference } from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components } from "../example/convex/_generated/api";
import exampleSchema from "../example/convex/schema";
import { modules } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const schema = defineSchema({
  ...exampleSchema.tables,
  events: defineTable({ name: v.string(), kind: v.string(), updatedAt: v.number(), seen: v.optional(v.number()) })
    .index("by_updatedAt", ["updatedAt"])
    .index("by_name", ["name"])
    .index("by_kind", ["kind"]),
});

const migrations = new Migrations(components.migrations, { schema });
const seeOnce = (_ctx: unknown, doc: { seen?: number }) => ({ seen: (doc.seen ?? 0) + 1 });
const fixed = { table: "events" as const, batchSize: 10, maxBatchSize: 10, migrateOne: seeOnce };

/** The migrations under test, mounted as the app's `events` module. */
const eventsModule = {
  byUpdatedAt: migrations.define({ ...fixed, customRange: (q) => q.withIndex("by_updatedAt") }),
  recentByUpdatedAt: migrations.define({
    ...fixed,
    customRange: (q) => q.withIndex("by_updatedAt", (r) => r.gte("updatedAt", RECENT)),
  }),
  byName: migrations.define({ ...fixed, customRange: (q) => q.withIndex("by_name") }),
  openByKind: migrations.define({ ...fixed, customRange: (q) => q.withIndex("by_kind", (r) => r.eq("kind", "open")) }),
  run: migrations.runner(),
};

const EVENTS = 100;
const FIRST_UPDATE = 1_000;
const STEP = 10;
/** Where `recentByUpdatedAt` starts: the last 40 of the 100 events. */
const RECENT = FIRST_UPDATE + 60 * STEP;

function deployment() {
  const t = convexTest({ schema, modules: { ...modules, "../example/convex/events.ts": async () => eventsModule } });
  register(t);
  return t;
}
type Deployment = ReturnType<typeof deployment>;

/**
 * Insert events with `updatedAt` evenly spread but in a scrambled order
 * (37 is coprime with 100), names and kinds varying too.
 */
async function seedEvents(t: Deployment, n = EVENTS) {
  await t.run(async (ctx) => {
    for (let i = 0; i < n; i++) {
      const rank = (i * 37) % n;
      await ctx.db.insert("events", {
        name: `event ${String(rank).padStart(3, "0")}`,
        kind: i % 2 === 0 ? "open" : "closed",
        updatedAt: FIRST_UPDATE + rank * STEP,
      });
    }
  });
}

const run = makeFunctionReference<"mutation">("events:run");

async function row(t: Deployment, name: string) {
  const [status] = await t.run(async (ctx) => await ctx.runQuery(components.migrations.lib.getStatus, { names: [name] }));
  return status!;
}
type Row = Awaited<ReturnType<typeof row>>;

/** Let a second pass, then run the hops that are due (one batch each). */
async function hop(t: Deployment) {
  vi.advanceTimersByTime(1_000);
  vi.runOnlyPendingTimers();
  await t.finishInProgressScheduledFunctions();
}

/** Start `name`, then hop until it ends, keeping the status row seen after each hop. */
async function follow(t: Deployment, name: string, between: () => Promise<void> = async () => {}) {
  await t.mutation(run, { fn: name });
  const seen: Row[] = [await row(t, name)];
  for (let i = 0; i < 100 && !seen[seen.length - 1]!.isDone; i++) {
    await between();
    await hop(t);
    seen.push(await row(t, name));
  }
  return seen;
}

async function seenCounts(t: Deployment) {
  return (await t.run(async (ctx) => await ctx.db.query("events").collect())).map((e) => e.seen ?? 0);
}

function expectRisingToOne(seen: Row[]) {
  const running = seen.slice(0, -1);
  const fractions = running.map((r) => r.estimate!.fractionDone!);
  expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  expect(fractions.every((f) => f < 1)).toBe(true);
  expect(seen[seen.length - 1]).toMatchObject({ isDone: true, estimate: { fractionDone: 1, etaMs: 0, basis: "done" } });
}

describe("estimate of a customRange walk", () => {
  test("over a numeric index it is the position along the key, rising to exactly 1", async () => {
    const t = deployment();
    await seedEvents(t);
    const seen = await follow(t, "events:byUpdatedAt");
    const running = seen.slice(0, -1);
    expect(running.length).toBeGreaterThan(5);
    for (const r of running) {
      expect(r.estimate).toMatchObject({ basis: "indexKey" });
      // updatedAt is spread evenly, so its position is the share processed.
      expect(r.estimate!.fractionDone!).toBeCloseTo(r.processed / EVENTS, 1);
    }
    expectRisingToOne(seen);
    const etas = running.map((r) => r.estimate!.etaMs).filter((e): e is number => e !== null);
    expect(etas.length).toBeGreaterThan(1);
    expect(etas[etas.length - 1]!).toBeLessThan(etas[0]!);
    expect(await seenCounts(t)).toEqual(Array(EVENTS).fill(1));
  });

  test("a range over part of the index is measured between its own ends", async () => {
    const t = deployment();
    await seedEvents(t);
    const seen = await follow(t, "events:recentByUpdatedAt");
    const running = seen.slice(0, -1);
    expect(running.length).toBeGreaterThan(1);
    // 40 events in the range: 10 of them is a quarter, not a tenth.
    expect(running[0]).toMatchObject({ processed: 10, estimate: { basis: "indexKey" } });
    for (const r of running) expect(r.estimate!.fractionDone!).toBeCloseTo(r.processed / 40, 1);
    expectRisingToOne(seen);
    expect(seen[seen.length - 1]!.processed).toBe(40);
  });

  test("documents the app moves past the last key during the run never take it past 100%", async () => {
    const t = deployment();
    await seedEvents(t);
    let added = 0;
    const seen = await follow(t, "events:byUpdatedAt", async () => {
      // The app keeps writing events newer than any the walk began with.
      if (added >= 60) return;
      await t.run(async (ctx) => {
        for (let i = 0; i < 20; i++) {
          await ctx.db.insert("events", { name: `late ${added + i}`, kind: "open", updatedAt: 1e6 + added + i });
        }
      });
      added += 20;
    });
    expect(seen[seen.length - 1]!.processed).toBe(EVENTS + 60);
    expect(seen.slice(0, -1).every((r) => r.estimate!.fractionDone! <= 0.999)).toBe(true);
    expectRisingToOne(seen);
  });

  test("under an equality the walk goes by _creationTime, and that is its position", async () => {
    const t = deployment();
    await seedEvents(t);
    const seen = await follow(t, "events:openByKind");
    const running = seen.slice(0, -1);
    expect(running.length).toBeGreaterThan(1);
    for (const r of running) {
      expect(r.estimate).toMatchObject({ basis: "indexKey" });
      expect(r.estimate!.fractionDone!).toBeCloseTo(r.processed / (EVENTS / 2), 1);
    }
    expectRisingToOne(seen);
  });

  test("over a string index it shows no percentage, until done", async () => {
    const t = deployment();
    await seedEvents(t);
    const seen = await follow(t, "events:byName");
    const running = seen.slice(0, -1);
    expect(running.length).toBeGreaterThan(5);
    for (const r of running) expect(r.estimate).toEqual({ fractionDone: null, etaMs: null, basis: "none" });
    expect(seen[seen.length - 1]).toMatchObject({ isDone: true, processed: EVENTS, estimate: { fractionDone: 1 } });
  });
});
