/**
 * `convex-migrate check`: would the deployment accept this schema? Scans
 * every table of the local schema in read-only pages (the app's
 * `checkSchema` query) and reports the documents it would reject.
 */
import pc from "picocolors";
import type { SchemaCheckPage } from "../../client/preflight.js";
import type { DocumentViolations } from "../../engine-types/DocumentViolations.js";
import type { TableNote } from "../../engine-types/TableNote.js";
import { usageError, type CliError } from "../errors.js";
import type { Colors } from "../io.js";
import { count } from "../output.js";
import { loadLocalSchema, schemaTables, tableSchema } from "./load.js";
import type { SchemaCommandContext } from "./types.js";

/** Documents per query when `--page-size` is not given. */
export const CHECK_PAGE_SIZE = 500;
/** Violating documents described per table when `--samples` is not given. */
export const CHECK_SAMPLES = 3;

export type CheckOptions = {
  /** Path of the schema to check against, e.g. `convex/schema.ts`. */
  schema: string;
  /** Only these tables (default: every table of the schema). */
  tables?: string[];
  pageSize?: number;
  /** Violating documents to describe per table. */
  samples?: number;
  /** Called after each page, e.g. to show progress on a TTY. */
  onPage?: (table: string, scannedSoFar: number) => void;
};

/** What `check` found in one table. */
export type TableCheck = {
  table: string;
  scanned: number;
  violating: number;
  samples: DocumentViolations[];
  notes: TableNote[];
};

/** The whole answer, also the `--json` document. */
export type CheckReport = {
  schema: string;
  /** False when the schema turns validation off: nothing would be rejected. */
  schemaValidation: boolean;
  scanned: number;
  violating: number;
  /** Documents the deployment would reject (0 when validation is off). */
  rejected: number;
  tables: TableCheck[];
};

/**
 * Check every document of the deployment against the local schema.
 *
 * @example
 * ```ts
 * const report = await check({ transport, functionsModule: "migrate" }, { schema: "convex/schema.ts" });
 * process.exitCode = checkExitCode(report);
 * ```
 */
export async function check(ctx: SchemaCommandContext, opts: CheckOptions): Promise<CheckReport> {
  const exported = await loadLocalSchema(opts.schema, ctx.cwd);
  const schemaValidation = (JSON.parse(exported) as { schemaValidation?: boolean }).schemaValidation !== false;
  const tables = opts.tables?.length ? opts.tables : schemaTables(exported);
  const samples = opts.samples ?? CHECK_SAMPLES;
  const report: CheckReport = { schema: opts.schema, schemaValidation, scanned: 0, violating: 0, rejected: 0, tables: [] };
  for (const table of tables) {
    const found: TableCheck = { table, scanned: 0, violating: 0, samples: [], notes: [] };
    const schema = tableSchema(exported, table);
    let cursor: string | null = null;
    for (;;) {
      const page: SchemaCheckPage = await callCheck(ctx, {
        schema,
        table,
        cursor,
        numItems: opts.pageSize ?? CHECK_PAGE_SIZE,
        maxSamples: Math.max(0, samples - found.samples.length),
      });
      found.scanned += page.scanned;
      found.violating += page.violating;
      found.samples.push(...page.samples);
      for (const note of page.notes) if (!found.notes.includes(note)) found.notes.push(note);
      opts.onPage?.(table, found.scanned);
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    report.tables.push(found);
    report.scanned += found.scanned;
    report.violating += found.violating;
  }
  report.rejected = schemaValidation ? report.violating : 0;
  return report;
}

async function callCheck(ctx: SchemaCommandContext, args: Record<string, unknown>): Promise<SchemaCheckPage> {
  const fn = `${ctx.functionsModule}:checkSchema`;
  try {
    return (await ctx.transport.run(fn, args, "query")) as SchemaCheckPage;
  } catch (error) {
    throw missingFunction(error, fn) ?? error;
  }
}

/**
 * A clear error when the deployed code predates the preflight functions,
 * else undefined (the original error is the one to show).
 */
export function missingFunction(error: unknown, fn: string): CliError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/could not find|not found|no such (function|export)|does not exist/i.test(message)) return undefined;
  const [module, name] = fn.split(":");
  return usageError(
    `The deployment has no function ${fn}.`,
    `Export ${name} from convex/${module}.ts (migrations.versioned(manifest) returns it) and deploy that code first.`,
  );
}

/** 1 when the deployment would reject any document, else 0. */
export function checkExitCode(report: CheckReport): number {
  return report.rejected > 0 ? 1 : 0;
}

const NOTE_TEXT: Record<TableNote, string> = {
  not_in_schema: "not in this schema: its documents are not validated",
  no_document_validator: "no document validator: any document is accepted",
  schema_validation_off: "schema validation is off",
};

/** The report for people: one line per table, samples with their reasons. */
export function formatCheck(report: CheckReport, c: Colors = pc.createColors(false)): string {
  const lines: string[] = [];
  const width = Math.max(5, ...report.tables.map((t) => t.table.length));
  for (const t of report.tables) {
    const mark = t.violating > 0 ? c.red("✗") : c.green("✓");
    const counts = `${count(t.scanned).padStart(9)} scanned  ${count(t.violating).padStart(7)} violating`;
    const notes = t.notes.filter((n) => n !== "schema_validation_off").map((n) => c.dim(`  (${NOTE_TEXT[n]})`));
    lines.push(`${mark} ${t.table.padEnd(width)} ${t.violating > 0 ? c.red(counts) : counts}${notes.join("")}`);
    for (const sample of t.samples) {
      const [first, ...rest] = sample.violations;
      const reason = (v: { path: string; expected: string; found: string }) =>
        `${v.path || "(document)"}: expected ${v.expected}, found ${v.found}`;
      lines.push(`    ${c.dim(sample.id)}  ${first ? reason(first) : ""}`);
      const indent = " ".repeat(sample.id.length + 6);
      for (const v of rest) lines.push(`${indent}${reason(v)}`);
      if (sample.omitted > 0) lines.push(`${indent}${c.dim(`… ${sample.omitted} more reasons`)}`);
    }
    const undescribed = t.violating - t.samples.length;
    if (t.samples.length > 0 && undescribed > 0) lines.push(c.dim(`    … and ${count(undescribed)} more documents`));
  }
  lines.push("");
  if (!report.schemaValidation) {
    lines.push(
      `${report.schema} turns schema validation off, so nothing would be rejected` +
        (report.violating > 0 ? ` (${count(report.violating)} documents do not match it).` : "."),
    );
  } else if (report.rejected > 0) {
    lines.push(
      c.red(`${count(report.rejected)} of ${count(report.scanned)} documents would be rejected by ${report.schema}.`) +
        " Migrate them first (convex-migrate up), then check again.",
    );
  } else {
    lines.push(c.green(`All ${count(report.scanned)} documents fit ${report.schema}: the deployment will accept it.`));
  }
  return lines.join("\n");
}
