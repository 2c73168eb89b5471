/**
 * The command line: flags parsed by commander, one small function per
 * command, one place that turns errors into a message and an exit code.
 */
import fs from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { Command, CommanderError, Option } from "commander";
import { cancel } from "./commands/cancel.js";
import { create } from "./commands/create.js";
import { deploy } from "./commands/deploy.js";
import { loadDemo } from "./commands/demoLoader.js";
import { repair } from "./commands/repair.js";
import { deployBridge } from "./commands/deployBridge.js";
import { status } from "./commands/status.js";
import { runMigrations, type RunOptions } from "./commands/up.js";
import { functionsDir, loadConfig, parseDuration, positiveInteger, type Config } from "./config.js";
import { makeContext, type Context } from "./context.js";
import { CliError, EXIT, usageError, type ExitCode } from "./errors.js";
import { colorsFor, type Io } from "./io.js";
import { PACKAGE } from "./packageRoot.js";
import { releaseFrom } from "./release.js";
import { registerSchemaCommands } from "./schema/index.js";
import { mask, type Target } from "./transport/convexRun.js";
import { TransportError } from "./transport/types.js";
import { VERSIONED_EXPORT_LINE } from "../client/exportLine.js";
import type { Direction } from "../engine-types/Direction.js";

/** Engine refusals that mean the request or the manifest is wrong (exit 2), not the data. */
const USAGE_CODES = new Set([
  "INVALID_INPUT",
  "INVALID_ID",
  "DUPLICATE_ID",
  "EMPTY_TABLE",
  "UNKNOWN_MIGRATION",
  "STEPS_AND_TO",
  "NO_DOWN_TARGET",
  "INVALID_STEPS",
  "NO_DOWN_STEP",
  "INVALID_BATCH_SIZE",
  "INVALID_PARALLELISM",
  "NOT_REPAIRABLE",
]);

type TargetFlags = { prod?: boolean; previewName?: string; deploymentName?: string; envFile?: string };
type CommonFlags = TargetFlags & { json?: boolean };
type RunFlags = CommonFlags & {
  dryRun?: boolean;
  allowDrift?: boolean;
  strict?: boolean;
  wait: boolean;
  restart?: boolean;
  timeout?: string;
  batchSize?: string;
  env?: string;
  commit?: string;
  tag?: string;
  steps?: string;
  to?: string;
};

function withTarget(cmd: Command): Command {
  return cmd
    .option("--prod", "use the project's production deployment")
    .option("--preview-name <name>", "use the preview deployment with this name")
    .option("--deployment-name <name>", "use the deployment with this name")
    .option("--env-file <path>", "read CONVEX_DEPLOYMENT / CONVEX_DEPLOY_KEY from this file");
}

function withRunFlags(cmd: Command): Command {
  return withTarget(cmd)
    .option("--dry-run", "show the plan and drift, change nothing")
    .option("--allow-drift", "run even if applied migrations were edited or removed")
    .option("--strict", "treat out-of-order pending migrations as blocking drift")
    .option("--restart", "start failed or canceled migrations over instead of resuming")
    .option("--no-wait", "start the run and exit without following it")
    .option("--timeout <duration>", "stop waiting after this long (exit 1), e.g. 90s, 15m, 1h")
    .option("--batch-size <n>", "documents per batch for every migration of the run")
    .option("--env <name>", "release record: environment name")
    .option("--commit <sha>", "release record: commit (default: from the CI environment)")
    .option("--tag <tag>", "release record: release tag")
    .option("--json", "print one JSON document on stdout; logs go to stderr");
}

/** Commander's way to let a flag repeat: `--id a --id b`. */
const collect = (value: string, previous: string[]) => [...previous, value];

const targetOf = (f: TargetFlags): Target => ({
  ...(f.prod ? { prod: true } : {}),
  ...(f.previewName !== undefined ? { previewName: f.previewName } : {}),
  ...(f.deploymentName !== undefined ? { deploymentName: f.deploymentName } : {}),
  ...(f.envFile !== undefined ? { envFile: f.envFile } : {}),
});

function runOptions(direction: Direction, f: RunFlags, config: Config, io: Io): RunOptions {
  return {
    direction,
    ...(f.steps !== undefined ? { steps: positiveInteger(f.steps, "--steps") } : {}),
    ...(f.to !== undefined ? { to: f.to } : {}),
    dryRun: f.dryRun ?? false,
    allowDrift: f.allowDrift ?? config.allowDrift,
    strict: f.strict ?? config.strict,
    restart: f.restart ?? false,
    wait: f.wait,
    timeoutMs: f.timeout !== undefined ? parseDuration(f.timeout, "--timeout") : config.timeoutMs,
    ...(f.batchSize !== undefined
      ? { batchSize: positiveInteger(f.batchSize, "--batch-size") }
      : config.batchSize !== undefined
        ? { batchSize: config.batchSize }
        : {}),
    release: releaseFrom({ env: f.env, commit: f.commit, tag: f.tag }, io.env, targetOf(f)),
  };
}

/**
 * `--env-file` names a file `npx convex` reads from the same folder; a path
 * that is not there is a usage error here, before any child starts (Node in
 * the npx child would otherwise stop with its own "not found", exit 9).
 */
function checkEnvFile(envFile: string | undefined, cwd: string): void {
  if (envFile === undefined) return;
  const resolved = path.resolve(cwd, envFile);
  if (!fs.existsSync(resolved) || !fs.statSync(resolved).isFile()) {
    throw usageError(
      `--env-file ${envFile}: no such file (looked for ${resolved}).`,
      "Pass the path of an existing .env file, relative to the folder you run convex-migrate in.",
    );
  }
}

/** Run the CLI with `argv` (without node and script) and return the exit code. */
export async function runCli(argv: string[], io: Io): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.OK;
  const context = (flags: CommonFlags): Context => {
    checkEnvFile(flags.envFile, io.cwd);
    return makeContext(io, loadConfig(io.cwd), { json: flags.json ?? false, target: targetOf(flags) });
  };
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) =>
    async (...args: A) => {
      exitCode = await fn(...args);
    };

  const program = new Command("convex-migrate")
    .description("Versioned, checksummed online data migrations for Convex.")
    .version(PACKAGE.pkg.version ?? "unknown")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError("Run `convex-migrate <command> --help` for the flags.");

  program
    .command("create")
    .description("scaffold a migration file and rewrite the manifest")
    .argument("<name>", "what the migration does, e.g. backfill_priority")
    .option("--json", "print one JSON document on stdout")
    .action(act(async (name: string, f: { json?: boolean }) => await create(context(f), name)));

  withRunFlags(program.command("up").description("apply pending migrations and follow the run")).action(
    act(async (f: RunFlags) => {
      const ctx = context(f);
      return await runMigrations(ctx, runOptions("up", f, ctx.config, io));
    }),
  );

  withRunFlags(
    program
      .command("down")
      .description("roll back applied migrations (--steps N or --to ID)")
      .option("--steps <n>", "roll back the last N applied migrations")
      .option("--to <id>", "roll back every migration applied after this id"),
  ).action(
    act(async (f: RunFlags) => {
      if ((f.steps === undefined) === (f.to === undefined)) {
        throw usageError("down needs exactly one of --steps N or --to ID.", "e.g. `convex-migrate down --steps 1`.");
      }
      const ctx = context(f);
      return await runMigrations(ctx, runOptions("down", f, ctx.config, io));
    }),
  );

  withTarget(program.command("status").description("show migrations, runs, pending ids and drift"))
    .option("--watch", "keep showing status as it changes (Ctrl-C to stop)")
    .option("--json", "print the status as one JSON document")
    .option("--exit-code", "exit 4 when migrations are pending, 3 when drift blocks")
    .addOption(new Option("--limit <n>", "recent runs to show").argParser((v) => positiveInteger(v, "--limit")))
    .action(
      act(
        async (f: CommonFlags & { watch?: boolean; exitCode?: boolean; limit?: number }) =>
          await status(context(f), {
            watch: f.watch ?? false,
            exitCode: f.exitCode ?? false,
            ...(f.limit !== undefined ? { limit: f.limit } : {}),
          }),
      ),
    );

  withTarget(program.command("cancel").description("cancel the active run between batches; up resumes it"))
    .option("--run-id <id>", "the run to cancel (default: the active one)")
    .option("--json", "print one JSON document on stdout")
    .action(act(async (f: CommonFlags & { runId?: string }) => await cancel(context(f), f)));

  withTarget(program.command("repair").description("accept edited or deleted applied migrations, on the record"))
    .option("--id <id>", "only this migration (repeat for more); default: every edited or deleted one", collect, [])
    .option("--env <name>", "release record: environment name")
    .option("--commit <sha>", "release record: commit (default: from the CI environment)")
    .option("--tag <tag>", "release record: release tag")
    .option("--json", "print one JSON document on stdout")
    .action(
      act(
        async (f: CommonFlags & { id: string[]; env?: string; commit?: string; tag?: string }) =>
          await repair(context(f), {
            ids: f.id,
            release: releaseFrom({ env: f.env, commit: f.commit, tag: f.tag }, io.env, targetOf(f)),
          }),
      ),
    );

  withRunFlags(
    program
      .command("deploy")
      .description("npx convex deploy, then up --strict, waiting; a failed deploy migrates nothing")
      .argument("[convexDeployFlags...]", "flags for `npx convex deploy`, after --")
      .option("--bridge", "narrowing changes too: push on a bridge schema (deployed ∪ local), migrate, check, push the local schema")
      .option("--schema <path>", "with --bridge: the local schema file (default: convex/schema.ts)"),
  ).action(
    act(async (convexArgs: string[], f: RunFlags & { bridge?: boolean; schema?: string }) => {
      const ctx = context(f);
      const options = runOptions("up", f, ctx.config, io);
      if (f.bridge) {
        if (!f.wait) {
          throw usageError("deploy --bridge waits for the migrations before the second push.", "Drop --no-wait.");
        }
        return await deployBridge(ctx, convexArgs, targetOf(f), {
          ...options,
          schema: f.schema ?? `${functionsDir(io.cwd)}/schema.ts`,
        });
      }
      if (f.schema !== undefined) throw usageError("--schema is for deploy --bridge.", "Add --bridge, or drop --schema.");
      return await deploy(ctx, convexArgs, targetOf(f), options);
    }),
  );

  registerSchemaCommands(program, { io, context, act, withTarget });

  program
    .command("demo")
    .description("the whole workflow on an in-memory deployment of the example app")
    .addOption(
      new Option("--todos <n>", "how many todos to seed and migrate (default 20,000)").argParser((v) =>
        positiveInteger(v, "--todos"),
      ),
    )
    .action(act(async (f: { todos?: number }) => await (await loadDemo()).demo(io, f, runCli)));

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    const { code, message, hint } = report(error, io);
    const end = argv.indexOf("--");
    if ((end === -1 ? argv : argv.slice(0, end)).includes("--json") && code !== EXIT.OK) {
      // Under --json a failure is still one JSON document on stdout.
      io.stdout.write(`${JSON.stringify({ error: { message, ...(hint ? { hint } : {}) }, exitCode: code }, null, 2)}\n`);
    }
    return code;
  }
}

type Reported = { code: ExitCode; message: string; hint?: string };

/** Print an error in one or two lines and choose its exit code. */
function report(error: unknown, io: Io): Reported {
  if (error instanceof CommanderError) {
    // Commander already printed its message (and the help hint).
    return { code: error.exitCode === 0 ? EXIT.OK : EXIT.USAGE, message: error.message.replace(/^error: /, "") };
  }
  const c = colorsFor(io.stderr, io.env);
  const print = (code: ExitCode, message: string, hint?: string): Reported => {
    const line = mask(firstLine(message), io.env);
    const next = hint ? mask(hint, io.env) : undefined;
    io.stderr.write(`${c.red("error:")} ${line}\n${next ? `  ${next}\n` : ""}`);
    return { code, message: line, ...(next ? { hint: next } : {}) };
  };
  if (error instanceof CliError) return print(error.exitCode, error.message, error.hint);
  if (error instanceof TransportError) {
    const data = error.data as { kind?: string; code?: string; hint?: string } | undefined;
    const usage =
      (data?.kind === "ENGINE_ERROR" && USAGE_CODES.has(data.code ?? "")) ||
      data?.kind === "UNKNOWN_RUN" ||
      data?.kind === "MISSING_EXPORT";
    const missingFunction = /Could not find (public )?(function|module)/i.test(error.message);
    return print(
      usage || missingFunction ? EXIT.USAGE : EXIT.FAILED,
      error.message,
      data?.hint ||
        (missingFunction
          ? `Export the functions from your migrations module (see functionsModule in convex-migrate.json), and deploy: ${VERSIONED_EXPORT_LINE}`
          : undefined),
    );
  }
  return print(
    EXIT.FAILED,
    `Unexpected error: ${String((error as Error)?.message ?? error)}`,
    "Please report this with the command you ran.",
  );
}

/** Errors stay one line (plus the hint): the first meaningful line of a longer message. */
function firstLine(message: string): string {
  return (
    stripVTControlCharacters(message)
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? message
  );
}
