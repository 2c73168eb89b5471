/**
 * Schema preflight: the read-only functions `convex-migrate check` and
 * `convex-migrate plan` call in the app. They run in the app because a
 * component cannot read the app's tables; the rules (what a validator
 * accepts, how two schemas differ) live in the engine.
 */
import {
  internalQueryGeneric,
  type GenericDatabaseReader,
  type GenericDataModel,
  type GenericSchema,
  type SchemaDefinition,
  type SystemTableNames,
} from "convex/server";
import { ConvexError, convexToJson, v, type Infer, type Value } from "convex/values";
import * as engine from "../fullEngine.js";
import type { IdTable } from "../engine-types/IdTable.js";
import type { PageCheckRequest } from "../engine-types/PageCheckRequest.js";
import type { PageCheckResult } from "../engine-types/PageCheckResult.js";

/** Documents per `checkSchema` call when the caller names no page size. */
export const DEFAULT_CHECK_PAGE_ITEMS = 500;
/**
 * The largest page `checkSchema` reads. Far below Convex's 32,000 documents
 * and 16 MiB per query, so a page of large documents still fits in one call.
 */
export const MAX_CHECK_PAGE_ITEMS = 2_000;
/** Violating documents described per page when the caller names no number. */
export const DEFAULT_CHECK_SAMPLES = 3;

/** Any schema `defineSchema` returns. */
export type AnySchema = SchemaDefinition<GenericSchema, boolean>;

/**
 * The JSON string Convex itself pushes for a schema (`schema.export()`, which
 * the `convex` package marks internal but which is what the deployment
 * validates documents against).
 *
 * @example
 * ```ts
 * import schema from "./convex/schema";
 * const exported = exportSchema(schema); // '{"tables":[...],"schemaValidation":true}'
 * ```
 */
export function exportSchema(schema: AnySchema): string {
  const exportable = schema as unknown as { export?: () => string };
  if (typeof exportable.export !== "function") {
    throw new Error("This is not a schema from defineSchema(...): it has no export(). Pass the default export of convex/schema.ts.");
  }
  return exportable.export();
}

const vViolation = v.object({ path: v.string(), expected: v.string(), found: v.string() });

/** What `checkSchema` returns for one page of one table. */
export const vSchemaCheckPage = v.object({
  /** Documents read in this page. */
  scanned: v.number(),
  /** Of those, documents the schema would reject. */
  violating: v.number(),
  /** The first few violating documents, each with every reason. */
  samples: v.array(v.object({ id: v.string(), violations: v.array(vViolation), omitted: v.number() })),
  /** Facts about the table: not in the schema, no validator, validation off. */
  notes: v.array(v.union(v.literal("not_in_schema"), v.literal("no_document_validator"), v.literal("schema_validation_off"))),
  continueCursor: v.string(),
  isDone: v.boolean(),
});
export type SchemaCheckPage = Infer<typeof vSchemaCheckPage>;

// Compile-time proof that the validator and the engine's generated type agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agree = <T extends true>(): T | undefined => undefined;
agree<Same<Omit<SchemaCheckPage, "continueCursor" | "isDone">, PageCheckResult>>();

/** Arguments of `checkSchema`. */
export const vSchemaCheckArgs = {
  /** The schema to check against, as `exportSchema` returns it. */
  schema: v.string(),
  table: v.string(),
  /** `null` for the first page, then the previous page's `continueCursor`. */
  cursor: v.union(v.string(), v.null()),
  /** Documents to read, 1 to MAX_CHECK_PAGE_ITEMS. */
  numItems: v.optional(v.number()),
  /** Violating documents to describe (all are counted). */
  maxSamples: v.optional(v.number()),
};

/** Whether `value` is an id of `table` (deleted documents' ids included). */
function isIdOf(db: GenericDatabaseReader<GenericDataModel>, { table, system }: IdTable, value: string): boolean {
  const id = system
    ? db.system.normalizeId(table as SystemTableNames, value)
    : db.normalizeId(table, value);
  return id !== null;
}

/**
 * Check documents against a schema the way Convex judges a push, ids
 * included: which table an id belongs to is known only to the deployment, so
 * the engine names the strings and the tables to try and `db` looks them up.
 */
export function checkDocuments(
  db: GenericDatabaseReader<GenericDataModel>,
  page: Omit<PageCheckRequest, "ids">,
): PageCheckResult {
  const request = { ...page, ids: [] };
  const ids = engine.pageIdQuestions(request).questions.map(({ value, tables }) => ({
    value,
    table: tables.find((t) => isIdOf(db, t, value))?.table ?? null,
  }));
  return engine.checkPage({ ...request, ids });
}

/**
 * The two preflight functions over the app's `schema` (the one given to the
 * `Migrations` constructor). `migrations.versioned(manifest)` returns them
 * with the other versioned functions; export them from the same module.
 *
 * @example
 * ```ts
 * export const migrations = new Migrations<DataModel>(components.migrations, { schema });
 * export const { start, status, cancel, batch, batchRaw, checkSchema, deployedSchema } =
 *   migrations.versioned(manifest);
 * ```
 */
export function schemaFunctions(schema: AnySchema | undefined) {
  return {
    /**
     * One page of one table checked against a schema (normally the local one,
     * about to be deployed): how many documents it would reject and why.
     * Reads one page and writes nothing.
     */
    checkSchema: internalQueryGeneric({
      args: vSchemaCheckArgs,
      returns: vSchemaCheckPage,
      handler: async (ctx, args): Promise<SchemaCheckPage> => {
        const numItems = Math.floor(args.numItems ?? DEFAULT_CHECK_PAGE_ITEMS);
        if (!(numItems >= 1 && numItems <= MAX_CHECK_PAGE_ITEMS)) {
          throw new ConvexError({
            kind: "INVALID_PAGE_SIZE",
            message: `numItems must be a whole number from 1 to ${MAX_CHECK_PAGE_ITEMS}, got ${args.numItems}.`,
          });
        }
        const page = await ctx.db
          .query(args.table)
          .paginate({ cursor: args.cursor, numItems });
        const result = checkDocuments(ctx.db, {
          schema: args.schema,
          table: args.table,
          documents: page.page.map((doc) => convexToJson(doc as Value)),
          maxSamples: Math.max(0, Math.floor(args.maxSamples ?? DEFAULT_CHECK_SAMPLES)),
        });
        return { ...result, continueCursor: page.continueCursor, isDone: page.isDone };
      },
    }),

    /** The schema this deployment runs, exported as Convex pushes it. */
    deployedSchema: internalQueryGeneric({
      args: {},
      returns: v.string(),
      handler: async () => {
        if (!schema) {
          throw new ConvexError({
            kind: "NO_SCHEMA",
            message:
              "deployedSchema needs the app's schema: pass it to the constructor, " +
              "new Migrations(components.migrations, { schema }) with `import schema from \"./schema\"`, and deploy.",
          });
        }
        return exportSchema(schema);
      },
    }),
  };
}
