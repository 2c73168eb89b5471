/**
 * One batch over an app table, run inside the app (a component cannot read
 * the app's tables). Called by the component through a function handle, as a
 * nested mutation: if anything here throws, the whole batch rolls back.
 */
import type {
  DocumentByName,
  GenericDataModel,
  GenericMutationCtx,
  GenericSchema,
  NamedTableInfo,
  Query,
  QueryInitializer,
  SchemaDefinition,
  TableNamesInDataModel,
} from "convex/server";
import { defineSchema, defineTable } from "convex/server";
import { ConvexError, convexToJson, type GenericId, type Value } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import {
  CUSTOM_RANGE_TABLE,
  DRY_RUN,
  MIGRATE_ONE_FAILED,
  MIGRATION_DESCRIPTION,
  UNKNOWN_TABLE,
  type BatchArgs,
  type BatchResult,
  type DocumentFailure,
  type DryRunOutcome,
  type DryRunSample,
  type MigrationDescription,
} from "../../../convex/batchContract.js";
import * as engine from "../appEngine.js";
import type { KeyValue } from "../engine-types/KeyValue.js";
import type { PagePosition } from "../engine-types/PagePosition.js";
import type { Usage } from "../engine-types/Usage.js";
import { isNewFormatCursor } from "./peerSurface.js";

/** How many before/after samples a dry run reports. */
export const DRY_RUN_SAMPLES = 5;

/** A patch `migrateOne` may return; a key set to `undefined` removes the field. */
export type MigrationPatch<Doc> = Partial<Omit<Doc, "_id" | "_creationTime">> & Record<string, unknown>;

/** What `migrateOne` receives besides the document. */
export type MigrateOneFn<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>, Ctx> = (
  ctx: Ctx,
  doc: DocumentByName<DataModel, TableName>,
) =>
  | void
  | undefined
  | null
  | MigrationPatch<DocumentByName<DataModel, TableName>>
  | Promise<void | undefined | null | MigrationPatch<DocumentByName<DataModel, TableName>>>;

/** Narrow the scanned documents to an index range. */
export type CustomRange<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>> = (
  q: QueryInitializer<NamedTableInfo<DataModel, TableName>>,
) => Query<NamedTableInfo<DataModel, TableName>>;

export type BatchSpec<DataModel extends GenericDataModel> = {
  table: string;
  migrateOne: (ctx: never, doc: never) => unknown;
  customRange?: CustomRange<DataModel, TableNamesInDataModel<DataModel>>;
  parallelize?: boolean;
  /**
   * The app's schema: names the table a wrong customRange reads, gives the
   * fields of the index it walks, and lets a peer cursor resume inside it.
   */
  schema?: SchemaDefinition<GenericSchema, boolean>;
};

type AnyDoc = { _id: GenericId<string>; _creationTime: number } & Record<string, unknown>;
type AnyCtx = GenericMutationCtx<GenericDataModel>;

/**
 * Refuse a table the app's schema does not define, before anything runs:
 * otherwise an unknown table reads as an empty one and the migration
 * "succeeds" having done nothing. Needs the schema given to the constructor.
 */
export function assertKnownTable(
  schema: SchemaDefinition<GenericSchema, boolean> | undefined,
  table: string,
  migration: string,
) {
  // An empty name is the engine's to refuse, with its own message.
  if (!schema || table === "" || Object.hasOwn(schema.tables, table)) return;
  throw new ConvexError({
    kind: UNKNOWN_TABLE,
    message:
      `Migration ${migration} names table "${table}", which the schema does not define ` +
      `(it has ${Object.keys(schema.tables).join(", ")}). Fix the migration's table, or add the table to ` +
      "convex/schema.ts and deploy.",
  });
}

/** One migration step as its batch function sees it. */
export type BatchStep = {
  spec: BatchSpec<GenericDataModel>;
  /** Documents in the first batch (see `startingBatchSize`); the engine may grow or shrink it. */
  batchSize: number;
  /** The largest batch the engine may grow to, when the step sets one. */
  maxBatchSize?: number;
  /** Workers the migration runs with once its first worker's size settles. */
  workers: number;
  /** The migration's name, for a refusal (asked only when describing). */
  name: () => string | Promise<string>;
  /** Merged into the context `migrateOne` receives. */
  extraCtx?: Record<string, unknown>;
  /** A check that must pass before a batch runs (not before a description). */
  beforeBatch?: () => void;
};

/**
 * What a migration function answers the component: the step's description
 * when asked (`describe: true`), after checking its table and range, else
 * one batch over its table.
 */
export async function describeOrRunBatch(ctx: AnyCtx, args: BatchArgs, step: BatchStep): Promise<unknown> {
  const { spec } = step;
  if (args.describe) {
    assertKnownTable(spec.schema, spec.table, await step.name());
    await assertCustomRangeTable(ctx, spec);
    const description: MigrationDescription = {
      kind: MIGRATION_DESCRIPTION,
      table: spec.table,
      batchSize: step.batchSize,
      ...(step.maxBatchSize !== undefined ? { maxBatchSize: step.maxBatchSize } : {}),
      workers: step.workers,
    };
    return description;
  }
  step.beforeBatch?.();
  return await runBatch(ctx, spec, { ...args, batchSize: args.batchSize ?? step.batchSize }, step.extraCtx);
}

/**
 * Run `migrateOne` over one page of the table and return the batch result.
 * `extraCtx` is merged into the context `migrateOne` receives.
 */
export async function runBatch(
  ctx: AnyCtx,
  spec: BatchSpec<GenericDataModel>,
  args: BatchArgs & { batchSize: number },
  extraCtx: Record<string, unknown> = {},
): Promise<BatchResult> {
  const before = await metrics(ctx);
  const { page, continueCursor, isDone, position, walkedIndex } = await readPage(ctx, spec, args);
  const migrateCtx = { ...ctx, ...extraCtx } as never;
  let updated = 0;
  // The fields patches changed, kept only when an index walk must be checked against them.
  const changed = walkedIndex?.index && walkedIndex.fields ? new Set<string>() : undefined;
  const doOne = async (doc: AnyDoc) => {
    const patch = await applyOne(spec, migrateCtx, doc);
    if (!patch) return;
    const keys = Object.keys(patch);
    if (keys.length === 0) return;
    if (changed) for (const key of keys) if (!sameValue(patch[key], doc[key])) changed.add(key);
    await writePatch(ctx, spec.table, doc, patch);
    updated++;
  };
  if (spec.parallelize) await Promise.all(page.map(doOne));
  else for (const doc of page) await doOne(doc);
  assertWalkUnmoved(spec, walkedIndex, changed);
  const usage = usageSince(before, await metrics(ctx));
  const result: BatchResult = {
    continueCursor,
    isDone,
    processed: page.length,
    updated,
    ...(usage ? { usage } : {}),
    ...(position ? { position } : {}),
  };
  if (args.dryRun) {
    const samples = await dryRunSamples(ctx, page);
    const outcome: DryRunOutcome = { kind: DRY_RUN, result: { ...result, samples } };
    // Throwing rolls back every write of this batch: nothing is kept.
    throw new ConvexError(outcome as never);
  }
  return result;
}

async function readPage(ctx: AnyCtx, spec: BatchSpec<GenericDataModel>, args: BatchArgs & { batchSize: number }) {
  const range = args.range;
  const ranged = range !== undefined && (range.lo !== undefined || range.hi !== undefined);
  // A query runs once, so each read builds its own: pages through the
  // paginator that fits the cursor, the range's bounds through plain reads.
  const walk = (
    initializer: QueryInitializer<NamedTableInfo<GenericDataModel, string>> = ctx.db.query(spec.table),
  ): Query<NamedTableInfo<GenericDataModel, string>> => {
    if (ranged && range) {
      return initializer.withIndex("by_creation_time", (q) => {
        const lower = range.lo !== undefined ? q.gte("_creationTime", range.lo) : q;
        return range.hi !== undefined ? lower.lt("_creationTime", range.hi) : lower;
      });
    }
    return spec.customRange ? spec.customRange(initializer as never) : initializer;
  };
  const initializer = pagesFor(ctx, spec, args);
  const query = walk(initializer);
  // Read before paginate, which closes the query.
  const walked = query === initializer ? { fields: [] } : walkOf(spec, query);
  // The component says when the cursor is the chain's own (the engine decides).
  if (args.cursor && args.checkCursor !== false) assertCursorFits(ctx, spec.table, args.cursor, walked.fields);
  const walkedIndex = spec.customRange ? walked : undefined;
  try {
    const result = await query.paginate({
      cursor: args.cursor ?? null,
      numItems: args.batchSize,
    });
    const page = result.page as AnyDoc[];
    assertOwnTable(ctx, spec, page);
    // A walk in _creationTime order reports where it is in _creationTime; a
    // customRange reports its index keys, which the engine reads as a
    // position when the key is a number. An index whose fields are not
    // known (no schema given) reports nothing.
    const keys: WalkKeys | undefined =
      !spec.customRange || ranged ? { kind: "creationTime" } : walked.fields ? { kind: "index", fields: walked.fields } : undefined;
    const position = keys && (await pagePosition(() => walk(), page, !args.cursor, keys));
    return { ...result, page, position, walkedIndex };
  } catch (error) {
    if (error instanceof ConvexError) throw error;
    if (args.cursor && /cursor/i.test(error instanceof Error ? error.message : String(error))) {
      throw invalidCursor(spec.table);
    }
    throw error;
  }
}

type Walk = { index?: string; fields?: string[] };

/**
 * The index a query walks (e.g. `by_n`) and its fields before the
 * `_creationTime` and `_id` every index ends with. Convex's query object
 * keeps its source in a field that is not public API, and the fields come
 * from the constructor's `schema`; what cannot be read is left out, and is
 * then not checked.
 */
function walkOf(spec: BatchSpec<GenericDataModel>, query: unknown): Walk {
  const reflected = reflectedWalk(query);
  if (reflected) return reflected;
  const source = (query as { state?: { query?: { source?: { type?: unknown; indexName?: unknown } } } }).state?.query
    ?.source;
  if (source?.type === "FullTableScan") return { fields: [] };
  if (source?.type !== "IndexRange" || typeof source.indexName !== "string") return {};
  const index = source.indexName.slice(source.indexName.indexOf(".") + 1);
  if (index === "by_creation_time") return { index, fields: [] };
  const table = spec.schema?.tables[spec.table] as
    | { " indexes"?: () => { indexDescriptor: string; fields: string[] }[] }
    | undefined;
  const fields = table?.[" indexes"]?.().find((i) => i.indexDescriptor === index)?.fields;
  return fields ? { index, fields } : { index };
}

/**
 * The walk of a convex-helpers paginator query, which says its index and
 * fields itself (`reflect()`); `by_id` has no `_creationTime` key, so its
 * fields are left out and not checked.
 */
function reflectedWalk(query: unknown): Walk | undefined {
  const reflect = (query as { reflect?: unknown }).reflect;
  if (typeof reflect !== "function") return undefined;
  const { index, indexFields } = reflect.call(query) as { index?: unknown; indexFields?: unknown };
  const name = typeof index === "string" ? index : "by_creation_time";
  if (!Array.isArray(indexFields) || name === "by_id") return { index: name };
  const fields = (indexFields as string[]).filter((f) => f !== "_creationTime" && f !== "_id");
  return { index: name, fields };
}

/** Whether a patch leaves a field as it was (Convex values compare by their JSON form). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(convexToJson(a as Value)) === JSON.stringify(convexToJson(b as Value));
}

/**
 * A patch that changes a field of the index `customRange` walks moves the
 * document within the walk, ahead of the cursor when the key grows, so the
 * walk would meet it again. The engine refuses the batch, which rolls back.
 * Needs the schema (the constructor's `schema` option) to know the fields.
 */
function assertWalkUnmoved(spec: BatchSpec<GenericDataModel>, walk: Walk | undefined, changed: Set<string> | undefined) {
  if (!walk?.index || !walk.fields || !changed || changed.size === 0) return;
  engine.checkIndexWalk({ table: spec.table, index: walk.index, indexFields: walk.fields, changedFields: [...changed] });
}

function invalidCursor(table: string) {
  return new ConvexError({
    kind: "INVALID_CURSOR",
    message:
      `The saved cursor does not fit table ${table} and its range (the migration's table or ` +
      `customRange changed, or the cursor belongs to another migration). Pass reset: true to start over.`,
  });
}

/**
 * A positional cursor names the document it stopped at and has one key per
 * field of its index; one of another table or index would parse under this
 * query and start at an arbitrary place (a whole table skipped, "success"
 * with nothing processed). Convex's opaque cursors are judged by Convex.
 */
function assertCursorFits(ctx: AnyCtx, table: string, cursor: string, indexFields: string[] | undefined) {
  const position = engine.cursorPosition({ cursor, ...(indexFields ? { indexFields } : {}) });
  if (position.fitsIndex === false) throw invalidCursor(table);
  if (position.documentId !== undefined && ctx.db.normalizeId(table, position.documentId) === null) {
    throw invalidCursor(table);
  }
}

/**
 * Refuse documents of another table, before `migrateOne` sees any: a
 * `customRange` that returns `db.query("other")` would otherwise migrate
 * that table under this migration's name.
 */
function assertOwnTable(ctx: AnyCtx, spec: BatchSpec<GenericDataModel>, docs: AnyDoc[]) {
  const stranger = docs.find((d) => ctx.db.normalizeId(spec.table, d._id) === null);
  if (!stranger) return;
  const other = Object.keys(spec.schema?.tables ?? {}).find((t) => ctx.db.normalizeId(t, stranger._id) !== null);
  throw new ConvexError({
    kind: CUSTOM_RANGE_TABLE,
    message:
      `customRange must return a query on ${spec.table}; it returned one on ${other ?? "another table"}. ` +
      `Start it from the query it is given (q.withIndex(...) on ${spec.table}), or define the migration on ` +
      `${other ?? "that table"} instead.`,
  });
}

/**
 * Check a migration's `customRange` before anything runs: the first document
 * it yields must be of the migration's table (an empty range writes nothing).
 */
export async function assertCustomRangeTable(ctx: AnyCtx, spec: BatchSpec<GenericDataModel>) {
  if (!spec.customRange) return;
  const first = (await spec.customRange(ctx.db.query(spec.table) as never).first()) as AnyDoc | null;
  assertOwnTable(ctx, spec, first ? [first] : []);
}

/** What a walk's position is read in: `_creationTime`, or the walked index's key. */
type WalkKeys = { kind: "creationTime" } | { kind: "index"; fields: string[] };

/**
 * Where a page leaves a walk: the key of its last document and, on a walk's
 * first page, the keys of the range's first and last document (two indexed
 * reads of one document each).
 */
async function pagePosition(
  walk: () => Query<NamedTableInfo<GenericDataModel, string>>,
  page: AnyDoc[],
  firstPage: boolean,
  keys: WalkKeys,
): Promise<PagePosition | undefined> {
  const last = page[page.length - 1];
  if (!last) return undefined;
  // The first page starts where the walk starts, so its first document is
  // the low end. The high end is read backwards, which stays one document
  // only when nothing filters the index range: a filter whose matches all
  // lie early would scan the whole unmatched tail, against the batch's read
  // limit, so a filtered walk reports no bounds (and no estimate).
  const backwards = firstPage ? walkBackwards(walk) : undefined;
  const lo = backwards && page[0]!;
  const hi = backwards && ((await backwards.first()) as AnyDoc | null);
  if (keys.kind === "creationTime") {
    return { at: last._creationTime, ...(lo && hi ? { bounds: { lo: lo._creationTime, hi: hi._creationTime } } : {}) };
  }
  const key = (doc: AnyDoc) => indexKey(doc, keys.fields);
  return { indexKey: { at: key(last), ...(lo && hi ? { bounds: { lo: key(lo), hi: key(hi) } } : {}) } };
}

/**
 * The walk read backwards, when it can be read so in one step: a
 * customRange that sets its own order (or searches) cannot be ordered again
 * (Convex refuses that before reading anything), and one that filters may
 * scan far for its last match. Either reports no bounds, so no estimate.
 */
function walkBackwards(walk: () => Query<NamedTableInfo<GenericDataModel, string>>) {
  try {
    const query = walk();
    return filters(query) ? undefined : query.order("desc");
  } catch {
    return undefined;
  }
}

/**
 * Whether a query filters what its index range yields. Convex keeps a
 * query's operators in a field that is not public API; the table itself
 * (`ctx.db.query(table)`, no index or operator yet) has none, and a query
 * whose operators cannot be read counts as filtered.
 */
function filters(query: unknown): boolean {
  if (typeof (query as { fullTableScan?: unknown }).fullTableScan === "function") return false;
  const operators = (query as { state?: { query?: { operators?: unknown } } }).state?.query?.operators;
  return !Array.isArray(operators) || operators.some((op) => typeof op === "object" && op !== null && "filter" in op);
}

/**
 * A document's key in an index: its fields in order, then `_creationTime`.
 * Numbers go as they are; any other value as the text of its JSON form, which
 * only equals the same value's; a missing field as the empty text, which no
 * value's JSON form is.
 */
function indexKey(doc: AnyDoc, fields: string[]): KeyValue[] {
  const value = (field: string) =>
    field.split(".").reduce<unknown>((v, part) => (v && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined), doc);
  const keyValue = (v: unknown): KeyValue =>
    typeof v === "number" ? v : v === undefined ? "" : JSON.stringify(convexToJson(v as Value));
  return [...fields.map((f) => keyValue(value(f))), doc._creationTime];
}

/**
 * Where the batch reads its page, as @convex-dev/migrations 0.3.5+ does:
 * convex-helpers' `paginator`, whose cursors are JSON arrays, which works
 * inside components and any number of times per function. A cursor of
 * `.paginate()` (saved by the peer before 0.3.5) only `.paginate()` can
 * continue. A `customRange` needs the schema's index fields for the
 * paginator; without the schema such a migration reads with `.paginate()`.
 */
function pagesFor(
  ctx: AnyCtx,
  spec: BatchSpec<GenericDataModel>,
  args: BatchArgs,
): QueryInitializer<NamedTableInfo<GenericDataModel, string>> {
  if (spec.customRange && !spec.schema) return ctx.db.query(spec.table);
  if (!isNewFormatCursor(args.cursor ?? null)) return ctx.db.query(spec.table);
  const schema = spec.schema ?? defineSchema({ [spec.table]: defineTable({}) });
  return paginator(ctx.db as never, schema).query(spec.table) as unknown as QueryInitializer<
    NamedTableInfo<GenericDataModel, string>
  >;
}

/** Call `migrateOne` and check what it returned; name the document on failure. */
async function applyOne(spec: BatchSpec<GenericDataModel>, ctx: never, doc: AnyDoc) {
  try {
    const patch = (await spec.migrateOne(ctx, doc as never)) as unknown;
    if (patch === undefined || patch === null) return undefined;
    if (typeof patch !== "object" || Array.isArray(patch)) {
      throw new Error(
        `migrateOne must return a patch object or nothing, but returned ${Array.isArray(patch) ? "an array" : typeof patch}. ` +
          "Return e.g. { field: value }, or write with ctx.db yourself and return nothing.",
      );
    }
    for (const key of ["_id", "_creationTime"]) {
      if (key in patch) {
        throw new Error(`migrateOne's patch sets the system field ${key}, which cannot change. Remove it from the patch.`);
      }
    }
    return patch as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConvexError && (error.data as { kind?: string })?.kind === MIGRATE_ONE_FAILED) throw error;
    const failure: DocumentFailure = {
      kind: MIGRATE_ONE_FAILED,
      documentId: doc._id,
      // The engine's failure sentence names the document; keep the error's own text.
      message: error instanceof Error ? error.message : String(error),
    };
    throw new ConvexError(failure);
  }
}

async function writePatch(ctx: AnyCtx, table: string, doc: AnyDoc, patch: Record<string, unknown>) {
  try {
    await ctx.db.patch(doc._id, patch as never);
  } catch (error) {
    const failure: DocumentFailure = {
      kind: MIGRATE_ONE_FAILED,
      documentId: doc._id,
      message: `the patch could not be written to ${table}: ${error instanceof Error ? error.message : String(error)}`,
    };
    throw new ConvexError(failure);
  }
}

async function dryRunSamples(ctx: AnyCtx, page: AnyDoc[]): Promise<DryRunSample[]> {
  const samples: DryRunSample[] = [];
  for (const before of page) {
    if (samples.length >= DRY_RUN_SAMPLES) break;
    const after = await ctx.db.get(before._id);
    if (JSON.stringify(after) !== JSON.stringify(before)) samples.push({ id: before._id, before, after });
  }
  return samples;
}

type Metrics = Record<keyof Usage, number>;

/** The transaction's usage so far, when the runtime can tell it. */
async function metrics(ctx: AnyCtx): Promise<Metrics | undefined> {
  const meta = (ctx as { meta?: { getTransactionMetrics?: () => Promise<Record<string, { used: number }>> } }).meta;
  if (!meta?.getTransactionMetrics) return undefined;
  try {
    const m = await meta.getTransactionMetrics();
    return {
      documentsRead: m.documentsRead?.used ?? 0,
      bytesRead: m.bytesRead?.used ?? 0,
      documentsWritten: m.documentsWritten?.used ?? 0,
      bytesWritten: m.bytesWritten?.used ?? 0,
      databaseQueries: m.databaseQueries?.used ?? 0,
    };
  } catch {
    return undefined;
  }
}

function usageSince(before: Metrics | undefined, after: Metrics | undefined): Usage | undefined {
  if (!before || !after) return undefined;
  return {
    documentsRead: Math.max(0, after.documentsRead - before.documentsRead),
    bytesRead: Math.max(0, after.bytesRead - before.bytesRead),
    documentsWritten: Math.max(0, after.documentsWritten - before.documentsWritten),
    bytesWritten: Math.max(0, after.bytesWritten - before.bytesWritten),
    databaseQueries: Math.max(0, after.databaseQueries - before.databaseQueries),
  };
}
