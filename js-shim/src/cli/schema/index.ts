/**
 * The schema commands on the command line: `check`, `plan` and `sync`. The
 * program registers them with one call, passing its own helpers so flags,
 * deployment targets, errors and exit codes behave as in every command.
 */
import type { Command } from "commander";
import { follow } from "../commands/up.js";
import { functionsDir, parseDuration, positiveInteger } from "../config.js";
import type { Context } from "../context.js";
import { EXIT, usageError, type ExitCode } from "../errors.js";
import type { Io } from "../io.js";
import { table } from "../output.js";
import { releaseFrom } from "../release.js";
import { check, checkExitCode, formatCheck } from "./check.js";
import { formatPlan, plan } from "./plan.js";
import { formatSync, sync } from "./sync.js";
import type { SchemaCommandContext } from "./types.js";

/** The program's own helpers, so these commands behave like the others. */
export type SchemaCommandHelpers = {
  io: Io;
  /** A command's context from its flags (`--json`, the deployment target). */
  context: (flags: { json?: boolean }) => Context;
  /** Wraps an action so its returned exit code becomes the process's. */
  act: <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) => (...args: A) => Promise<void>;
  /** Adds --prod, --preview-name, --deployment-name, --env-file. */
  withTarget: (cmd: Command) => Command;
};

type SchemaFlags = { json?: boolean; schema?: string };

const schemaContext = (ctx: Context): SchemaCommandContext => ({
  transport: ctx.transport,
  functionsModule: ctx.config.functionsModule,
  cwd: ctx.io.cwd,
});

/** A whole number from 0, from a flag. */
function count(value: string, flag: string): number {
  if (!/^\s*\d+\s*$/.test(value)) throw usageError(`${flag} must be a whole number, not ${JSON.stringify(value)}.`);
  return Number(value);
}

/** The local schema file: `--schema`, else `<functions folder>/schema.ts`. */
const schemaPath = (io: Io, flags: SchemaFlags) => flags.schema ?? `${functionsDir(io.cwd)}/schema.ts`;

/**
 * Register `check`, `plan` and `sync` on the program.
 *
 * @example
 * ```ts
 * registerSchemaCommands(program, { io, context, act, withTarget });
 * ```
 */
export function registerSchemaCommands(program: Command, h: SchemaCommandHelpers): void {
  h.withTarget(
    program
      .command("check")
      .description("scan the deployment's documents against the local schema (read-only); exit 1 if any would be rejected"),
  )
    .option("--schema <path>", "the schema to check against (default: convex/schema.ts)")
    .option("--table <name...>", "only these tables")
    .option("--page-size <n>", "documents per query (default 500, at most 2000)")
    .option("--samples <n>", "violating documents to describe per table (default 3)")
    .option("--json", "print one JSON document on stdout")
    .action(
      h.act(async (f: SchemaFlags & { table?: string[]; pageSize?: string; samples?: string }) => {
        const ctx = h.context(f);
        const report = await check(schemaContext(ctx), {
          schema: schemaPath(h.io, f),
          ...(f.table ? { tables: f.table } : {}),
          ...(f.pageSize !== undefined ? { pageSize: positiveInteger(f.pageSize, "--page-size") } : {}),
          ...(f.samples !== undefined ? { samples: count(f.samples, "--samples") } : {}),
        });
        if (ctx.json) ctx.emit(report);
        else ctx.human.write(`${formatCheck(report, ctx.c)}\n`);
        return checkExitCode(report) as ExitCode;
      }),
    );

  h.withTarget(
    program
      .command("plan")
      .description("the schema changes from the deployed schema to the local one, and the pending migrations that cover them"),
  )
    .option("--schema <path>", "the local schema (default: convex/schema.ts)")
    .option("--json", "print one JSON document on stdout")
    .action(
      h.act(async (f: SchemaFlags) => {
        const ctx = h.context(f);
        const report = await plan(schemaContext(ctx), { schema: schemaPath(h.io, f) });
        if (ctx.json) ctx.emit(report);
        else ctx.human.write(`${formatPlan(report, ctx.c)}\n`);
        return EXIT.OK;
      }),
    );

  h.withTarget(
    program
      .command("sync")
      .description("before deploying another branch: roll back the applied migrations that branch does not know"),
  )
    .option("--keep-from <path>", "that branch's migrations folder or manifest (default: the configured migrations folder)")
    .option("--dry-run", "show what would be rolled back, change nothing")
    .option("--allow-drift", "run even if applied migrations were edited or removed")
    .option("--timeout <duration>", "stop waiting after this long (exit 1), e.g. 90s, 15m, 1h")
    .option("--env <name>", "release record: environment name")
    .option("--commit <sha>", "release record: commit")
    .option("--tag <tag>", "release record: release tag")
    .option("--json", "print one JSON document on stdout; logs go to stderr")
    .action(
      h.act(
        async (
          f: SchemaFlags & { keepFrom?: string; dryRun?: boolean; allowDrift?: boolean; timeout?: string } & {
            env?: string;
            commit?: string;
            tag?: string;
            prod?: boolean;
            previewName?: string;
            deploymentName?: string;
          },
        ) => {
          const ctx = h.context(f);
          const timeoutMs = f.timeout !== undefined ? parseDuration(f.timeout, "--timeout") : ctx.config.timeoutMs;
          const target = {
            ...(f.prod ? { prod: true } : {}),
            ...(f.previewName !== undefined ? { previewName: f.previewName } : {}),
            ...(f.deploymentName !== undefined ? { deploymentName: f.deploymentName } : {}),
          };
          const release = releaseFrom({ env: f.env, commit: f.commit, tag: f.tag }, h.io.env, target);
          const report = await sync(schemaContext(ctx), {
            keepFrom: f.keepFrom ?? ctx.config.migrationsDir,
            dryRun: f.dryRun ?? false,
            allowDrift: f.allowDrift ?? ctx.config.allowDrift,
            release,
            waitForRun: async (runId, rollBack) => {
              ctx.human.write(
                `Rolling back ${rollBack.length} migration${rollBack.length === 1 ? "" : "s"} the next branch does not know:\n` +
                  table(ctx.c, ["MIGRATION"], rollBack.map((id) => [id])),
              );
              const { run, timedOut } = await follow(ctx, runId, timeoutMs);
              return !timedOut && run.status === "succeeded" ? EXIT.OK : EXIT.FAILED;
            },
          });
          if (ctx.json) ctx.emit(report);
          ctx.human.write(`${formatSync(report, ctx.c)}\n`);
          return report.exitCode;
        },
      ),
    );
}
