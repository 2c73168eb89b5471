/**
 * `deploy --bridge`: roll a deployment forward to this commit in one
 * pipeline, narrowing schema changes included.
 *
 * 1. Plan: the engine compares the deployed schema with the local one. If no
 *    change needs data work this is a plain `deploy`.
 * 2. First push: the new code with the bridge schema (deployed ∪ target,
 *    computed by the engine) written in place of the schema file for the
 *    push only, type-checking off for that push.
 * 3. Migrate: `up --strict`, waiting.
 * 4. Preflight: `check` the target schema against the data.
 * 5. Second push: the new code with the target schema.
 *
 * Every stop after the first push leaves the deployment on the bridge
 * schema, which accepts the data in both shapes.
 */
import fs from "node:fs";
import path from "node:path";
import { planBridge } from "../../fullEngine.js";
import type { BridgePlan } from "../../engine-types/BridgePlan.js";
import type { SchemaDiff } from "../../engine-types/SchemaDiff.js";
import type { Context } from "../context.js";
import { CliError, EXIT, usageError, type ExitCode } from "../errors.js";
import type { Colors } from "../io.js";
import { schemaModuleSource, strictTableNameTypesOf, type ExportedSchema } from "../schema/bridgeModule.js";
import { check, formatCheck, missingFunction, type CheckReport } from "../schema/check.js";
import { knownMigrationIds, loadLocalSchema } from "../schema/load.js";
import { withFileSwapped } from "../schema/swap.js";
import type { Target } from "../transport/convexRun.js";
import type { StatusReport } from "../types.js";
import { deploy, deployArgs } from "./deploy.js";
import { runMigrations, type RunOptions, type RunOutcome } from "./up.js";

export type BridgeOptions = RunOptions & {
  /** The local schema file, e.g. `convex/schema.ts`. */
  schema: string;
};

/** Where the pipeline ended; also the `--json` document's `status`. */
export type BridgeStatus =
  "dry_run" | "deployed" | "first_push_failed" | "migration_failed" | "check_failed" | "second_push_failed";

/** What `deploy --bridge --json` prints. */
export type BridgeOutcome = {
  command: "deploy";
  mode: "bridge";
  status: BridgeStatus;
  exitCode: ExitCode;
  changes: SchemaDiff;
  fromDeployed: SchemaDiff;
  toTarget: SchemaDiff;
  /** Local migrations the deployment has not completed, in id order. */
  migrations: string[];
  /** The pushes made, in order, and whether each succeeded. */
  pushes: { schema: "bridge" | "target"; args: string[]; ok: boolean }[];
  run?: RunOutcome;
  check?: CheckReport;
};

/** The header of the generated module, in case a killed process leaves it behind. */
const HEADER =
  "Bridge schema written by `convex-migrate deploy --bridge` for one push; your schema file is restored after it.";

/** `--typecheck` and its value removed: the bridge push sets its own. */
function withoutTypecheck(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--typecheck") i++;
    else if (!arg.startsWith("--typecheck=")) out.push(arg);
  }
  return out;
}

/**
 * Roll forward through the bridge schema; see the module comment.
 *
 * @example
 * ```ts
 * const code = await deployBridge(ctx, ["--cmd", "npm run build"], { prod: true }, { ...runOptions, schema: "convex/schema.ts" });
 * ```
 */
export async function deployBridge(
  ctx: Context,
  convexArgs: string[],
  target: Target,
  opts: BridgeOptions,
): Promise<ExitCode> {
  const { c, human } = ctx;
  const cwd = ctx.io.cwd;
  const file = path.resolve(cwd, opts.schema);
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8").startsWith(`// ${HEADER}`)) {
    // A killed run (kill -9) cannot restore the file; pushing this as the target would skip the narrowing.
    throw usageError(
      `${opts.schema} is the bridge module an interrupted \`deploy --bridge\` wrote, not your schema.`,
      `Restore yours (git checkout -- ${opts.schema}), then run this again.`,
    );
  }
  const local = await loadLocalSchema(opts.schema, cwd);
  /** No bridge: today's `deploy`, or under --dry-run what it would do. */
  const directly = async (why: string, changes?: SchemaDiff): Promise<ExitCode> => {
    human.write(why);
    if (!opts.dryRun) return await deploy(ctx, convexArgs, target, opts);
    human.write(
      `  Would run: ${deployLine(deployArgs(convexArgs, target))}, then convex-migrate up --strict, waiting.\n` +
        "Dry run: nothing was pushed, migrated or changed.\n",
    );
    if (ctx.json) ctx.emit({ command: "deploy", mode: "direct", status: "dry_run", exitCode: EXIT.OK, changes });
    return EXIT.OK;
  };
  const deployed = await deployedSchema(ctx);
  if (deployed === undefined) {
    return await directly(
      `${c.yellow("!")} The deployment has no ${ctx.config.functionsModule}:deployedSchema (a new deployment, or code from ` +
        "before convex-migrate): there is no deployed schema to bridge from, so this deploys directly. " +
        "Convex refuses the push if stored data does not fit.\n",
    );
  }
  const plan = planBridge({ deployed, target: local });
  if (plan.mode === "direct") {
    return await directly(`${c.green("✔")} No schema change needs data work: no bridge is needed.\n`, plan.changes);
  }

  const status = (await query(ctx, "status", { limit: 1 })) as StatusReport;
  const migrations = localPending(ctx, status);
  const bridgeArgs = [...withoutTypecheck(deployArgs(convexArgs, target)), "--typecheck", "disable"];
  const targetArgs = deployArgs(convexArgs, target);
  const outcome: BridgeOutcome = {
    command: "deploy",
    mode: "bridge",
    status: "dry_run",
    exitCode: EXIT.OK,
    changes: plan.changes,
    fromDeployed: plan.fromDeployed,
    toTarget: plan.toTarget,
    migrations,
    pushes: [],
  };
  const end = async (status: BridgeStatus, exitCode: ExitCode, next?: string): Promise<ExitCode> => {
    if (next) human.write(`  ${next}\n`);
    await recordOnRun(ctx, outcome, status);
    if (ctx.json) ctx.emit({ ...outcome, status, exitCode });
    return exitCode;
  };

  human.write(planText(c, opts.schema, plan, migrations, bridgeArgs, targetArgs));
  if (opts.dryRun) {
    human.write("Dry run: nothing was pushed, migrated or changed.\n");
    return await end("dry_run", EXIT.OK);
  }

  // 1. New code, bridge schema.
  const source = schemaModuleSource(plan.bridge as ExportedSchema, {
    header: HEADER,
    ...optionOf(strictTableNameTypesOf(fs.readFileSync(file, "utf8"))),
  });
  human.write(
    `\n${c.bold("Push 1 of 2")}: the new code on the bridge schema. Type-checking is off for this push only: ` +
      `the code was checked against ${opts.schema}, which the bridge only widens.\n` +
      `${c.dim("$")} ${deployLine(bridgeArgs)}\n`,
  );
  const first = await push(ctx, file, source, bridgeArgs);
  outcome.pushes.push({ schema: "bridge", args: bridgeArgs, ok: first === undefined });
  if (first !== undefined) {
    human.write(`${c.red("✖")} The bridge push failed: ${first}\n`);
    return await end(
      "first_push_failed",
      EXIT.FAILED,
      `The deployment still runs the previous release; nothing was migrated and ${opts.schema} is unchanged. Fix the error above and run this again.`,
    );
  }

  // 2. Migrate, waiting.
  human.write(`\n${c.bold("Migrate")}: up --strict, waiting.\n`);
  let run: RunOutcome | undefined;
  const code = await runMigrations(
    // Its outcome document is kept for this command's record and `--json`, not printed.
    { ...ctx, json: true, emit: (value) => (run = value as RunOutcome) },
    { ...opts, direction: "up", strict: true, wait: true },
    "deploy",
  );
  if (run) outcome.run = run;
  if (code !== EXIT.OK) {
    return await end(
      "migration_failed",
      code,
      "The deployment runs the new code on the bridge schema, which accepts both shapes: it is safe to stay there. " +
        "Fix the migration, then run `convex-migrate deploy --bridge` again: it resumes and pushes the target.",
    );
  }

  // 3. Preflight the target against the data.
  human.write(`\n${c.bold("Check")}: ${opts.schema} against the deployment's documents.\n`);
  const report = await check(
    { transport: ctx.transport, functionsModule: ctx.config.functionsModule, cwd },
    { schema: opts.schema },
  );
  outcome.check = report;
  human.write(`${formatCheck(report, c)}\n`);
  if (report.rejected > 0) {
    return await end(
      "check_failed",
      EXIT.FAILED,
      `Not pushing ${opts.schema}: Convex would reject it. The deployment stays on the bridge schema, which accepts these documents. ` +
        "Migrate them (a new migration, or fix the one that missed them), then run `convex-migrate deploy --bridge` again.",
    );
  }

  // 4. New code, target schema.
  human.write(`\n${c.bold("Push 2 of 2")}: the new code on ${opts.schema}.\n${c.dim("$")} ${deployLine(targetArgs)}\n`);
  const second = await push(ctx, undefined, undefined, targetArgs);
  outcome.pushes.push({ schema: "target", args: targetArgs, ok: second === undefined });
  if (second !== undefined) {
    human.write(`${c.red("✖")} The target push failed: ${second}\n`);
    return await end(
      "second_push_failed",
      EXIT.FAILED,
      "The deployment stays on the bridge schema with every migration applied, which is safe. " +
        "Fix the error above and run `convex-migrate deploy --bridge` again (or `npx convex deploy`).",
    );
  }
  human.write(`${c.green("✔")} Deployed ${opts.schema} with every migration applied.\n`);
  return await end("deployed", EXIT.OK);
}

/**
 * Put the pushes and the check on the release record of the run they went
 * with, so one record tells the whole deploy. Nothing to do when no run
 * started (every migration was applied already). An app that does not
 * export `recordDeploy` gets a warning; the deploy's outcome stands.
 */
async function recordOnRun(ctx: Context, outcome: BridgeOutcome, status: BridgeStatus): Promise<void> {
  const runId = outcome.run?.runId;
  if (runId === undefined || status === "dry_run" || status === "first_push_failed") return;
  const deploy = {
    pipeline: "bridge" as const,
    outcome: status,
    pushes: outcome.pushes.map((p) => ({ schema: p.schema, ok: p.ok })),
    ...(outcome.check ? { check: { scanned: outcome.check.scanned, rejected: outcome.check.rejected } } : {}),
  };
  const fn = `${ctx.config.functionsModule}:recordDeploy`;
  try {
    await ctx.transport.run(fn, { runId, deploy }, "mutation");
  } catch (error) {
    const missing = missingFunction(error, fn);
    ctx.human.write(
      `${ctx.c.yellow("!")} The release record of run ${runId} does not list the pushes and the check: ` +
        (missing ? `${missing.message} ${missing.hint ?? ""}` : (error as Error).message) +
        "\n",
    );
  }
}

/** `npx convex deploy` with its arguments, as printed. */
const deployLine = (args: string[]) => ["npx convex deploy", ...args].join(" ");

const optionOf = (strict: boolean | undefined) => (strict === undefined ? {} : { strictTableNameTypes: strict });

/** One `convex deploy`, with `file` holding `source` during it; the error's message, or undefined. */
async function push(ctx: Context, file: string | undefined, source: string | undefined, args: string[]) {
  const deployOnce = () => ctx.transport.deploy(args);
  try {
    if (file !== undefined && source !== undefined) await withFileSwapped(file, source, deployOnce);
    else await deployOnce();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The deployed schema, or undefined when the deployment has no function that tells it. */
async function deployedSchema(ctx: Context): Promise<string | undefined> {
  const fn = `${ctx.config.functionsModule}:deployedSchema`;
  try {
    return (await ctx.transport.run(fn, {}, "query")) as string;
  } catch (error) {
    if (missingFunction(error, fn)) return undefined;
    throw error;
  }
}

async function query(ctx: Context, name: "status", args: Record<string, unknown>): Promise<unknown> {
  const fn = `${ctx.config.functionsModule}:${name}`;
  try {
    return await ctx.transport.run(fn, args, "query");
  } catch (error) {
    throw missingFunction(error, fn) ?? error;
  }
}

/** Migration files of this commit that the deployment has not completed. */
function localPending(ctx: Context, status: StatusReport): string[] {
  let ids: string[];
  try {
    ids = knownMigrationIds(ctx.config.migrationsDir, ctx.io.cwd);
  } catch (error) {
    if (error instanceof CliError) return [];
    throw error;
  }
  const done = new Set(status.migrations.filter((m) => m.state === "completed").map((m) => m.id));
  return ids.filter((id) => !done.has(id));
}

function diffLines(c: Colors, diff: SchemaDiff): string[] {
  const lines = diff.changes.map((ch) => `    (schema) ${ch.detail}`);
  for (const t of diff.tables) {
    for (const ch of t.changes) {
      const where = ch.path ? `${t.table}.${ch.path}` : t.table;
      const mark = ch.safety === "needs_migration" ? c.yellow("✗") : c.green("✓");
      lines.push(`    ${mark} ${where}: ${ch.detail}`);
    }
  }
  return lines.length ? lines : [c.dim("    (no changes)")];
}

function planText(
  c: Colors,
  schema: string,
  plan: BridgePlan,
  migrations: string[],
  bridgeArgs: string[],
  targetArgs: string[],
): string {
  const lines = [
    `${c.bold("deploy --bridge")}: ${schema} narrows what the deployed schema accepts, so it goes out in two pushes.`,
    "",
    "  Deployed schema → bridge (push 1; the stored data fits it as it is):",
    ...diffLines(c, plan.fromDeployed),
    "",
    `  Bridge → ${schema} (push 2; needs the migrations):`,
    ...diffLines(c, plan.toTarget),
    "",
    `  Migrations to apply between the pushes (${migrations.length}):`,
    ...(migrations.length
      ? migrations.map((id) => `    ${id}`)
      : [c.dim("    (none: check decides whether the data already fits)")]),
    "",
    "  Steps:",
    `    1. ${deployLine(bridgeArgs)}   (new code, bridge schema in place of ${schema}, restored after)`,
    "    2. convex-migrate up --strict, waiting",
    `    3. convex-migrate check --schema ${schema}   (stops before push 2 if any document would be rejected)`,
    `    4. ${deployLine(targetArgs)}   (new code, ${schema})`,
    "",
  ];
  return `${lines.join("\n")}\n`;
}
