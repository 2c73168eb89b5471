/**
 * A small version of `npm run bench` (bench/side-by-side.ts): the same app,
 * both tools, Convex's limits enforced. It checks behaviour, never timing:
 * both migrate every document exactly once, ours needs fewer sequential
 * batches at defaults, and on large documents the peer's default batch hits
 * the 16 MiB read limit where ours shrinks, completes, and settles near the
 * read budget.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { counters, deployment, migrate, seed } from "../bench/scenarios";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const DOCS = 2_000;

describe("side by side, small", () => {
  test("both tools migrate every document exactly once at a fixed batch size of 100", async () => {
    for (const tool of ["ours", "peer"] as const) {
      const t = await deployment();
      await seed(t, DOCS);
      const outcome = await migrate(t, tool, "fixed");
      expect(outcome).toMatchObject({ state: "success", processed: DOCS });
      expect(await counters(t)).toEqual({ 1: DOCS });
      // Same batch size, same number of batches (the peer runs one more, empty, to see the end).
      expect(outcome.batchCalls.batch).toBeGreaterThanOrEqual(DOCS / 100);
      expect(outcome.batchCalls.batch).toBeLessThanOrEqual(DOCS / 100 + 1);
    }
  });

  test("at defaults ours needs fewer sequential batches and transactions than the peer", async () => {
    const outcomes = [];
    for (const tool of ["ours", "peer"] as const) {
      const t = await deployment();
      await seed(t, DOCS);
      const outcome = await migrate(t, tool, "default");
      expect(outcome).toMatchObject({ state: "success", processed: DOCS });
      expect(await counters(t)).toEqual({ 1: DOCS });
      outcomes.push(outcome);
    }
    const [ours, peer] = outcomes;
    expect(peer!.scheduledHops).toBe(DOCS / 100);
    expect(peer!.hopsPerChain).toEqual([DOCS / 100]);
    expect(peer!.docsPerBatch.max).toBe(100);
    // Ours: 100 in the starting call, then 800, then the other 1,100 in a batch that could take more.
    expect(ours!.hopsPerChain).toEqual([2]);
    expect(ours!.docsPerBatch).toEqual({ mean: Math.round(DOCS / 3), max: 1_100 });
    expect(ours!.scheduledHops).toBeLessThan(peer!.scheduledHops / 2);
    expect(ours!.transactions).toBeLessThan(peer!.transactions / 2);
  });

  test("on 200 KB documents the peer's default batch hits the read limit; ours shrinks and completes", async () => {
    const docs = 400;
    const bodyBytes = 200_000;
    const t = await deployment();
    await seed(t, docs, bodyBytes);
    const peer = await migrate(t, "peer", "default");
    expect(peer.state).toBe("failed");
    expect(peer.error).toMatch(/Read too much data/);
    const ours = await migrate(t, "ours", "default");
    expect(ours).toMatchObject({ state: "success", processed: docs });
    expect(ours.finalBatchSize).toBeLessThan(100);
    // Once it has measured them, its batches read 75–90% of what the batch may read, and no more.
    expect(ours.bindingShare?.limit).toBe("bytesRead");
    expect(ours.bindingShare!.min).toBeGreaterThanOrEqual(0.75);
    expect(ours.bindingShare!.max).toBeLessThanOrEqual(0.9);
    // The peer's failed batch rolled back: every document was migrated once, by ours.
    expect(await counters(t, bodyBytes)).toEqual({ 1: docs });
  });
});
