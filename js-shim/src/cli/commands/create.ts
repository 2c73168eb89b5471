/**
 * `create <name>`: a migration file named by a UTC timestamp id, and the
 * manifest rewritten to list every migration file in id order. Ids are
 * checked by the engine, the same rule `start` applies.
 */
import fs from "node:fs";
import path from "node:path";
import * as engine from "../../fullEngine.js";
import type { Context } from "../context.js";
import { functionsDir } from "../config.js";
import { EXIT, usageError, type ExitCode } from "../errors.js";

export const MANIFEST_FILE = "manifest.ts";

/** Files that start like an id are migrations; anything else in the folder is a helper. */
const LOOKS_LIKE_ID = /^\d{8}_\d{6}_/;

/** `Backfill Priority!` -> `backfill_priority`. */
export function slugify(name: string): string {
  return name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** `YYYYMMDD_HHMMSS` in UTC. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15);
}

/** Why the engine refuses `id`, or undefined when it is a valid migration id. */
export function idProblem(id: string): string | undefined {
  try {
    engine.buildManifest({ migrations: [{ id, description: "", up: { table: "t", source: "" } }] });
    return undefined;
  } catch (error) {
    if (error instanceof engine.EngineError && error.code === "INVALID_ID") {
      const details = error.data.details as { reason?: unknown } | null;
      return typeof details?.reason === "string" ? details.reason : error.message;
    }
    throw error;
  }
}

/** The migration ids in a folder, sorted. A file shaped like an id but invalid is an error. */
export function migrationIds(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const ids: string[] = [];
  for (const file of fs.readdirSync(dir)) {
    if (!file.endsWith(".ts") || file.endsWith(".d.ts") || file.endsWith(".test.ts")) continue;
    const id = file.slice(0, -".ts".length);
    if (!LOOKS_LIKE_ID.test(id)) continue;
    const problem = idProblem(id);
    if (problem) throw usageError(`${path.join(dir, file)} is not a valid migration id: ${problem}.`, "Rename the file.");
    ids.push(id);
  }
  return ids.sort();
}

/** The import specifier of the app's DataModel as seen from the migrations folder. */
function dataModelImport(cwd: string, migrationsDir: string): string {
  const target = path.join(cwd, functionsDir(cwd), "_generated", "dataModel.js");
  const rel = path.relative(path.join(cwd, migrationsDir), target).split(path.sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

export function renderManifest(ids: string[], dataModel: string): string {
  const imports = ids.map((id) => `import { migration as m${id} } from "./${id}.js";\n`).join("");
  const list = ids.length ? `[\n${ids.map((id) => `  m${id},\n`).join("")}]` : "[]";
  return (
    "// Written by `convex-migrate create`: every migration in this folder, in id order.\n" +
    'import { defineMigrationSet } from "convex-migrate";\n' +
    `import type { DataModel } from "${dataModel}";\n` +
    imports +
    `\nexport const manifest = defineMigrationSet<DataModel>(${list});\n`
  );
}

/**
 * The new file. `TODO_table_name` is deliberately undeclared: the file does
 * not type-check (and the deploy fails) until the table is filled in.
 */
export function renderMigration(id: string, description: string, dataModel: string): string {
  return `/** ${description}. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "${dataModel}";

export const migration = defineMigration<DataModel>({
  id: "${id}",
  description: ${JSON.stringify(description)},
  up: {
    // The table to migrate: this file does not compile until you name it, e.g. table: "todos".
    table: TODO_table_name,
    // Return a patch ({ field: value }; a field set to undefined is removed), or nothing to keep the document.
    migrateOne: async (_ctx, doc) => {
      return undefined;
    },
  },
  // How to undo \`up\` (\`convex-migrate down\`); without it this migration cannot be rolled back.
  // down: {
  //   table: "...",
  //   migrateOne: async (_ctx, doc) => undefined,
  // },
});
`;
}

export type CreateResult = { id: string; file: string; manifest: string; migrations: string[] };

export async function create(ctx: Context, name: string): Promise<ExitCode> {
  const slug = slugify(name);
  if (!slug) throw usageError(`"${name}" has no letters or digits to make an id from.`, "Try e.g. `convex-migrate create backfill_priority`.");
  const id = `${timestamp(ctx.io.now?.() ?? new Date())}_${slug}`;
  const problem = idProblem(id);
  if (problem) throw usageError(`Cannot make a migration id from "${name}": ${problem}.`);

  const { cwd } = ctx.io;
  const dir = path.resolve(cwd, ctx.config.migrationsDir);
  const existing = migrationIds(dir);
  if (existing.includes(id)) {
    throw usageError(`Migration ${id} already exists.`, "Wait a second and run create again, or choose another name.");
  }
  fs.mkdirSync(dir, { recursive: true });
  const dataModel = dataModelImport(cwd, ctx.config.migrationsDir);
  const file = path.join(dir, `${id}.ts`);
  fs.writeFileSync(file, renderMigration(id, slug.replace(/_/g, " "), dataModel), { flag: "wx" });
  const ids = [...existing, id].sort();
  const manifest = path.join(dir, MANIFEST_FILE);
  fs.writeFileSync(manifest, renderManifest(ids, dataModel));

  const result: CreateResult = { id, file: path.relative(cwd, file), manifest: path.relative(cwd, manifest), migrations: ids };
  if (ctx.json) ctx.emit(result);
  else {
    const { c } = ctx;
    ctx.human.write(
      `${c.green("✔")} Created ${c.bold(result.file)}\n` +
        `${c.green("✔")} Rewrote ${result.manifest} (${ids.length} migration${ids.length === 1 ? "" : "s"})\n` +
        `  Fill in its table and migrateOne (it does not compile until you do), deploy, then run \`convex-migrate up\`.\n`,
    );
  }
  return EXIT.OK;
}
