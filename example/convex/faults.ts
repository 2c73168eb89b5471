/**
 * A versioned migration set for the fault-matrix and bad-input tests
 * (tests/faults.test.ts, tests/bad-input.test.ts). Its one migration
 * increments a todo's `counter`, so a document processed twice shows 2.
 * The tests replace `countTodos.up.migrateOne` to simulate a redeploy.
 *
 * Also a few drop-in migrations that misbehave on purpose.
 */
import { defineMigration, defineMigrationSet, Migrations } from "convex-migrate";
import { customCtx, customMutation } from "convex-helpers/server/customFunctions";
import type { GenericDatabaseReader } from "convex/server";
import { components } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import { internalMutation } from "./functions.js";
import { internalMutation as rawInternalMutation } from "./_generated/server.js";
import schema from "./schema.js";

/** Counts each todo; refuses "poison"; pads "big…" todos to hit the bytes-written limit. */
export const countTodos = defineMigration<DataModel>({
  id: "20261201_090000_count_todos",
  description: "count each todo once",
  up: {
    table: "todos",
    batchSize: 10,
    migrateOne: (_ctx, doc) => {
      if (doc.text === "poison") throw new Error(`cannot migrate todo "${doc.text}"`);
      return {
        counter: (doc.counter ?? 0) + 1,
        ...(doc.text.startsWith("big") ? { text: doc.text.padEnd(20_000, ".") } : {}),
      };
    },
  },
  down: {
    table: "todos",
    batchSize: 10,
    migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) - 1 }),
  },
});

export const manifest = defineMigrationSet<DataModel>([countTodos]);

/** With `schema`, so a migration naming a table the schema lacks is refused. */
export const migrations = new Migrations<DataModel>(components.migrations, { internalMutation, schema });

export const { start, status, cancel, batch, batchRaw } = migrations.versioned(manifest);

export const run = migrations.runner();

/** Names a table the schema does not define. */
export const countNoSuchTable = migrations.define({
  table: "noSuchTable" as "todos",
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** Returns a number instead of a patch. */
export const returnNumber = migrations.define({
  table: "todos",
  migrateOne: () => 42 as never,
});

/** Tries to change a document's `_id`. */
export const setId = migrations.define({
  table: "todos",
  migrateOne: (_ctx, doc) => ({ _id: doc._id, counter: 1 }) as never,
});

/** Tries to change a document's `_creationTime`. */
export const setCreationTime = migrations.define({
  table: "todos",
  migrateOne: () => ({ _creationTime: 0, counter: 1 }) as never,
});

/**
 * A builder that keeps the last transaction's `db`, so a `customRange` can
 * reach past the query it is given, as a careless (or hostile) one might.
 */
let lastDb: GenericDatabaseReader<DataModel> | undefined;
const capturingMutation = customMutation(
  rawInternalMutation,
  customCtx((ctx) => {
    lastDb = ctx.db;
    return {};
  }),
);
const capturing = new Migrations<DataModel>(components.migrations, { internalMutation: capturingMutation, schema });

/** A migration on todos whose `customRange` returns a query on users. */
export const countUsersAsTodos = capturing.define({
  table: "todos",
  customRange: (q) => (lastDb ? (lastDb.query("users") as unknown as typeof q) : q),
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** A constructor that sets `defaultBatchSize`, for a migration that names no size. */
const inSevens = new Migrations<DataModel>(components.migrations, { defaultBatchSize: 7, schema });

/** Counts each todo in batches of the constructor's default size. */
export const countInSevens = inSevens.define({
  table: "todos",
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** An ordinary mutation, not a migration: refused wherever a migration is expected. */
export const plainMutation = internalMutation({
  args: {},
  handler: async () => null,
});

/**
 * Walks `by_done` and moves each undecided todo to `done: false`, further
 * along the same index: without a check, the walk meets it again.
 */
export const moveAlongWalkedIndex = migrations.define({
  table: "todos",
  customRange: (q) => q.withIndex("by_done"),
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1, ...(doc.done === undefined ? { done: false } : {}) }),
});

/** The peer's usual constructor: no schema, so a customRange gets Convex's own query. */
const schemaless = new Migrations<DataModel>(components.migrations);

/**
 * Counts the todos not marked "tail": a `customRange` that filters, whose
 * matches all come first in the table, so reading its last match backwards
 * would scan every tail document.
 */
export const countHead = schemaless.define({
  table: "todos",
  batchSize: 20,
  customRange: (q) => q.filter((f) => f.neq(f.field("text"), "tail")),
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});

/** The same count over an index range that does not filter: its bounds cost one read backwards. */
export const countInCreationOrder = schemaless.define({
  table: "todos",
  batchSize: 20,
  customRange: (q) => q.withIndex("by_creation_time"),
  migrateOne: (_ctx, doc) => ({ counter: (doc.counter ?? 0) + 1 }),
});
