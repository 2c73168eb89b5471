/**
 * What the schema commands read from the working tree: the local schema
 * (imported as code, since `defineSchema` is code) and the migration ids a
 * branch knows (from file names, without importing anything).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { exportSchema, type AnySchema } from "../../client/preflight.js";
import { usageError } from "../errors.js";

/** A migration file: `YYYYMMDD_HHMMSS_slug.ts` (or .js/.mts/.mjs). */
export const MIGRATION_FILE = /^(\d{8}_\d{6}_[a-z0-9][a-z0-9_]*)\.(?:ts|mts|js|mjs)$/;
const MIGRATION_ID = /\d{8}_\d{6}_[a-z0-9][a-z0-9_]*/g;

/**
 * The local schema as Convex would push it (`defineSchema(...).export()`).
 *
 * The file is imported: TypeScript loads as-is when the CLI runs under tsx
 * (as `npm run demo` and development do) and otherwise through tsx's
 * `tsImport`, if the project has tsx installed; a compiled `.js` schema
 * loads with plain Node.
 *
 * @example
 * ```ts
 * const exported = await loadLocalSchema("convex/schema.ts");
 * ```
 */
export async function loadLocalSchema(file: string, cwd = process.cwd()): Promise<string> {
  const abs = path.resolve(cwd, file);
  if (!fs.existsSync(abs)) {
    throw usageError(`No schema file at ${file}.`, "Pass --schema <path to the schema file>, e.g. convex/schema.ts.");
  }
  const mod = (await importSource(abs, cwd)) as { default?: unknown };
  const schema = mod.default;
  if (!schema || typeof (schema as { export?: unknown }).export !== "function") {
    throw usageError(`${file} has no default export made by defineSchema(...).`, "Export the schema as the default export.");
  }
  return exportSchema(schema as AnySchema);
}

async function importSource(abs: string, cwd: string): Promise<unknown> {
  const url = pathToFileURL(abs).href;
  try {
    return await import(url);
  } catch (error) {
    if (!/\.[mc]?tsx?$/.test(abs)) throw error;
    const tsx = tsxApi(cwd);
    if (!tsx) {
      throw usageError(
        `Cannot load ${path.relative(cwd, abs)}: loading TypeScript needs tsx.`,
        "Install it (npm i -D tsx), or pass --schema with a compiled .js schema.",
      );
    }
    const { tsImport } = (await import(tsx)) as { tsImport: (specifier: string, parent: string) => Promise<unknown> };
    return await tsImport(url, import.meta.url);
  }
}

/** tsx's programmatic API, resolved from the project first, then from here. */
function tsxApi(cwd: string): string | undefined {
  for (const from of [path.join(cwd, "package.json"), import.meta.url]) {
    try {
      return pathToFileURL(createRequire(from).resolve("tsx/esm/api")).href;
    } catch {
      // Not installed there; try the next place.
    }
  }
  return undefined;
}

type Exported = { tables?: { tableName: string }[]; schemaValidation?: boolean };

/** Table names of an exported schema, in the schema's order. */
export function schemaTables(exported: string): string[] {
  return ((JSON.parse(exported) as Exported).tables ?? []).map((t) => t.tableName);
}

/**
 * The exported schema cut down to one table (none if it does not list it),
 * as `checkSchema` needs it. Each page's call carries only this: through
 * `npx convex run` arguments travel on the command line, where one argument
 * may hold 128 KiB on Linux and a whole command line 32 KiB on Windows.
 */
export function tableSchema(exported: string, table: string): string {
  const parsed = JSON.parse(exported) as Exported;
  return JSON.stringify({
    ...parsed,
    tables: (parsed.tables ?? []).filter((t) => t.tableName === table),
  });
}

/**
 * The migration ids a branch knows: the `YYYYMMDD_HHMMSS_slug` files of its
 * migrations folder, or every id its manifest file mentions. Sorted, unique.
 *
 * @example
 * ```ts
 * knownMigrationIds("convex/migrations"); // ["20261101_090000_backfill_todo_done", ...]
 * ```
 */
export function knownMigrationIds(from: string, cwd = process.cwd()): string[] {
  const abs = path.resolve(cwd, from);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw usageError(`No migrations folder or manifest at ${from}.`, "Pass --keep-from <the next branch's migrations folder or manifest>.");
  }
  const ids = stat.isDirectory()
    ? fs.readdirSync(abs).flatMap((name) => MIGRATION_FILE.exec(name)?.[1] ?? [])
    : (fs.readFileSync(abs, "utf8").match(MIGRATION_ID) ?? []);
  if (ids.length === 0) {
    throw usageError(
      `${from} names no migration (files YYYYMMDD_HHMMSS_slug.ts); an empty list would roll back everything.`,
      "Point --keep-from at the next branch's migrations folder, or use `down --steps N` to roll back everything.",
    );
  }
  return [...new Set(ids)].sort();
}
