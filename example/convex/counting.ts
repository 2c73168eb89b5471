/**
 * Migrations used by the tests to prove exactly-once processing: each one
 * increments a document's `counter`, so a document seen twice shows 2.
 */
import { Migrations } from "convex-migrate";
import { components } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import { internalMutation } from "./functions.js";

export const migrations = new Migrations<DataModel>(components.migrations, { internalMutation });

/** Increments every todo's counter once. */
export const countTodos = migrations.define({
  table: "todos",
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** The same with four workers: one walks until its batch size settles, then four share the rest. */
export const countTodosInParallel = migrations.define({
  table: "todos",
  workers: 4,
  // Held at 100, so the first worker's size settles at once and it fans
  // out after its first batch, on tables small enough for tests.
  maxBatchSize: 100,
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** Fails on any todo whose text is "poison", after incrementing earlier ones. */
export const countUnlessPoison = migrations.define({
  table: "todos",
  batchSize: 10,
  migrateOne: (_ctx, doc) => {
    if (doc.text === "poison") throw new Error(`cannot migrate todo "${doc.text}"`);
    return { counter: (doc.counter ?? 0) + 1 };
  },
});

/** Writes a large field per document, to hit the bytes-written limit. */
export const padTodos = migrations.define({
  table: "todos",
  batchSize: 50,
  migrateOne: (_ctx, doc) => ({ text: doc.text.padEnd(20_000, "."), counter: (doc.counter ?? 0) + 1 }),
});

export const run = migrations.runner();

/** `countUnlessPoison` with four workers, at a fixed size of 5: a failure in one range. */
export const countUnlessPoisonInParallel = migrations.define({
  table: "todos",
  batchSize: 5,
  maxBatchSize: 5,
  workers: 4,
  migrateOne: (_ctx, doc) => {
    if (doc.text === "poison") throw new Error(`cannot migrate todo "${doc.text}"`);
    return { counter: (doc.counter ?? 0) + 1 };
  },
});

/**
 * Counts in `by_done` order, so a todo the app inserts with a `done` that
 * sorts before the cursor lands behind it.
 */
export const countTodosByDone = migrations.define({
  table: "todos",
  batchSize: 10,
  maxBatchSize: 10,
  customRange: (q) => q.withIndex("by_done"),
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** Pads only todos whose text starts with "big": the limit is hit mid-run. */
export const padBigTodos = migrations.define({
  table: "todos",
  batchSize: 10,
  migrateOne: (_ctx, doc) => ({
    counter: (doc.counter ?? 0) + 1,
    ...(doc.text.startsWith("big") ? { text: doc.text.padEnd(20_000, ".") } : {}),
  }),
});
