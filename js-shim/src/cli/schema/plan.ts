/**
 * `convex-migrate plan`: what changes between the deployed schema and the
 * local one, which changes need data work, and whether a pending migration
 * touches each such table. Reads only; the classification is the engine's.
 */
import pc from "picocolors";
import { diffSchemas } from "../../fullEngine.js";
import type { ChangeKind } from "../../engine-types/ChangeKind.js";
import type { Safety } from "../../engine-types/Safety.js";
import type { Colors } from "../io.js";
import { missingFunction } from "./check.js";
import { loadLocalSchema } from "./load.js";
import type { SchemaCommandContext } from "./types.js";

export type PlanOptions = {
  /** Path of the local schema, e.g. `convex/schema.ts`. */
  schema: string;
};

/** One change, with the pending migrations over its table. */
export type PlannedChange = {
  /** The table, or `""` for a change to the schema as a whole. */
  table: string;
  kind: ChangeKind;
  path: string;
  safety: Safety;
  detail: string;
  /** Pending migrations whose up step rewrites this table (unsafe changes only). */
  pendingMigrations: string[];
};

/** The whole answer, also the `--json` document. */
export type PlanReport = {
  schema: string;
  /** `needs_migration` when any change needs one. */
  safety: Safety;
  changes: PlannedChange[];
  /** Every pending migration id, in id order. */
  pending: string[];
  /** Unsafe changes whose table no pending migration touches. */
  uncovered: number;
};

type StatusView = { pending: string[]; migrations: { id: string; table?: string }[] };

/**
 * The schema diff from the deployment to the local schema, with coverage.
 *
 * @example
 * ```ts
 * const report = await plan({ transport, functionsModule: "migrate" }, { schema: "convex/schema.ts" });
 * console.log(formatPlan(report));
 * ```
 */
export async function plan(ctx: SchemaCommandContext, opts: PlanOptions): Promise<PlanReport> {
  const local = await loadLocalSchema(opts.schema, ctx.cwd);
  const deployed = (await call(ctx, "deployedSchema")) as string;
  const status = (await call(ctx, "status")) as StatusView;
  const diff = diffSchemas({ old: deployed, new: local });

  const pending = new Set(status.pending);
  const pendingOn = (table: string) =>
    status.migrations.filter((m) => pending.has(m.id) && m.table === table).map((m) => m.id);
  const changes: PlannedChange[] = [
    ...diff.changes.map((c) => ({ table: "", ...c, pendingMigrations: [] })),
    ...diff.tables.flatMap((t) =>
      t.changes.map((c) => ({
        table: t.table,
        ...c,
        pendingMigrations: c.safety === "needs_migration" ? pendingOn(t.table) : [],
      })),
    ),
  ];
  return {
    schema: opts.schema,
    safety: diff.safety,
    changes,
    pending: status.pending,
    uncovered: changes.filter((c) => c.safety === "needs_migration" && c.table && c.pendingMigrations.length === 0)
      .length,
  };
}

async function call(ctx: SchemaCommandContext, name: "deployedSchema" | "status"): Promise<unknown> {
  const fn = `${ctx.functionsModule}:${name}`;
  try {
    return await ctx.transport.run(fn, {}, "query");
  } catch (error) {
    throw missingFunction(error, fn) ?? error;
  }
}

const KIND_TEXT: Partial<Record<ChangeKind, string>> = {
  table_added: "table added",
  table_removed: "table removed",
  schema_validation_enabled: "schema validation turned on",
  schema_validation_disabled: "schema validation turned off",
};

/** The report for people: changes grouped by table, unsafe ones with their migrations. */
export function formatPlan(report: PlanReport, c: Colors = pc.createColors(false)): string {
  if (report.changes.length === 0) return `No schema changes: ${report.schema} matches the deployed schema.`;
  const lines = [`Schema changes from the deployed schema to ${report.schema}:`];
  let table: string | undefined;
  for (const change of report.changes) {
    if (change.table !== table) {
      table = change.table;
      lines.push("", c.bold(table || "(schema)"));
    }
    const unsafe = change.safety === "needs_migration";
    const mark = unsafe ? c.yellow("✗ needs migration") : c.green("✓ safe           ");
    const where = change.path || KIND_TEXT[change.kind] || change.kind.replaceAll("_", " ");
    lines.push(`  ${mark}  ${where}: ${change.detail}`);
    if (unsafe && change.table) {
      lines.push(
        change.pendingMigrations.length > 0
          ? c.dim(`                      pending: ${change.pendingMigrations.join(", ")}`)
          : c.dim(
              `                      no pending migration touches ${change.table}: migrated already, or one is missing (\`check\` tells)`,
            ),
      );
    }
  }
  const unsafe = report.changes.filter((ch) => ch.safety === "needs_migration").length;
  lines.push("");
  if (unsafe === 0) {
    lines.push(c.green("Every change is safe: deploy it as it is."));
  } else {
    lines.push(
      `${unsafe} of ${report.changes.length} changes need data work` +
        (report.uncovered > 0 ? `; ${report.uncovered} on tables no pending migration touches.` : "."),
      `Deploy a schema that accepts both shapes with the migrations, run \`convex-migrate up\`, ` +
        `then \`convex-migrate check --schema ${report.schema}\` before deploying this one.`,
    );
  }
  return lines.join("\n");
}
