/**
 * `up` and `down`: start a run, then follow it until it ends. Also the
 * second half of `deploy`.
 */
import type { Direction } from "../../engine-types/Direction.js";
import type { Context } from "../context.js";
import { CliError, EXIT, type ExitCode } from "../errors.js";
import { sleep } from "../io.js";
import { count, driftLines, duration, table } from "../output.js";
import { Progress } from "../progress.js";
import type { Release } from "../release.js";
import type { RunView, StartResult, StatusReport } from "../types.js";

export type RunOptions = {
  direction: Direction;
  steps?: number;
  to?: string;
  dryRun: boolean;
  allowDrift: boolean;
  strict: boolean;
  restart: boolean;
  wait: boolean;
  batchSize?: number;
  timeoutMs: number;
  release: Release;
};

/** How many failed `status` reads in a row the wait loop tolerates (network blips). */
const STATUS_RETRIES = 3;

/** What `--json` prints for `up`, `down` and `deploy`. */
export type RunOutcome = {
  command: "up" | "down" | "deploy";
  status: "running" | "succeeded" | "failed" | "canceled" | "timed_out" | "noop" | "dry_run" | "drift_blocked";
  exitCode: ExitCode;
  runId?: string;
  alreadyRunning?: boolean;
  plan: StartResult["plan"];
  drift: StartResult["drift"];
  run?: RunView;
};

export async function runMigrations(
  ctx: Context,
  opts: RunOptions,
  command: RunOutcome["command"] = opts.direction,
): Promise<ExitCode> {
  const { c, human } = ctx;
  const started = (await ctx.call(
    "start",
    {
      direction: opts.direction,
      ...(opts.steps !== undefined ? { steps: opts.steps } : {}),
      ...(opts.to !== undefined ? { to: opts.to } : {}),
      dryRun: opts.dryRun,
      allowDrift: opts.allowDrift,
      strict: opts.strict,
      ...(opts.restart ? { restart: true } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      release: opts.release,
    },
    "mutation",
  )) as StartResult;
  const outcome = (status: RunOutcome["status"], exitCode: ExitCode, run?: RunView): ExitCode => {
    if (ctx.json) {
      const doc: RunOutcome = {
        command,
        status,
        exitCode,
        ...(started.runId !== undefined ? { runId: started.runId } : {}),
        ...(started.alreadyRunning ? { alreadyRunning: true } : {}),
        plan: started.plan,
        drift: started.drift,
        ...(run ? { run } : {}),
      };
      ctx.emit(doc);
    }
    return exitCode;
  };

  switch (started.status) {
    case "drift_blocked":
      // Each finding already says what to do.
      human.write(`${c.red("✖")} Blocked by drift: nothing was run.\n${driftLines(c, started.drift)}`);
      return outcome("drift_blocked", EXIT.DRIFT);
    case "noop":
      human.write(
        opts.direction === "up"
          ? `${c.green("✔")} Nothing to migrate: every migration is applied.\n`
          : `${c.green("✔")} Nothing to roll back.\n`,
      );
      return outcome("noop", EXIT.OK);
    case "dry_run": {
      human.write(planText(ctx, started, "Dry run: this would run"));
      const withoutDown = started.plan.filter((p) => p.direction === "down" && !p.hasDown).map((p) => p.id);
      if (withoutDown.length > 0) {
        // The engine previews such a plan so every migration shows; the real run refuses it.
        human.write(
          `${c.red("✖")} ${withoutDown.join(", ")} ${withoutDown.length === 1 ? "has" : "have"} no down step, so this rollback would be refused.\n` +
            `  Nothing was changed. Add the down step${withoutDown.length === 1 ? "" : "s"} and deploy, or roll back fewer migrations.\n`,
        );
        return outcome("dry_run", EXIT.USAGE);
      }
      human.write(`  Nothing was changed. Run without --dry-run to apply.\n`);
      return outcome("dry_run", EXIT.OK);
    }
    case "running":
      break;
  }

  const runId = started.runId ?? "";
  if (started.alreadyRunning) {
    human.write(`${c.yellow("!")} Run ${runId} is already active; following it instead of starting another.\n`);
  } else {
    human.write(planText(ctx, started, opts.direction === "up" ? "Applying" : "Rolling back"));
  }
  if ("driftAllowed" in started && started.driftAllowed) human.write(`${c.yellow("!")} Drift allowed:\n${driftLines(c, started.drift)}`);
  if (!opts.wait) {
    human.write(`Run ${runId} started. Follow it with \`convex-migrate status --watch\`.\n`);
    return outcome("running", EXIT.OK);
  }

  const { run, timedOut } = await follow(ctx, runId, opts.timeoutMs);
  if (timedOut) {
    human.write(
      `${c.red("✖")} Stopped waiting after ${duration(opts.timeoutMs)}; run ${runId} is still running on the deployment.\n` +
        `  Follow it with \`convex-migrate status --watch\`, or stop it with \`convex-migrate cancel\`.\n`,
    );
    return outcome("timed_out", EXIT.FAILED, run);
  }
  human.write(summary(ctx, run));
  if (run.status === "succeeded") return outcome("succeeded", EXIT.OK, run);
  return outcome(run.status === "canceled" ? "canceled" : "failed", EXIT.FAILED, run);
}

function planText(ctx: Context, started: StartResult, verb: string): string {
  const { c } = ctx;
  const n = started.plan.length;
  // A rollback shows, per migration, whether it has the down step it needs.
  const down = started.plan.some((p) => p.direction === "down");
  const rows = started.plan.map((p) => [
    p.id,
    p.direction,
    p.table || c.dim("-"),
    ...(down ? [p.hasDown ? "yes" : c.red("none")] : []),
    p.resume ? c.yellow("resumes from its saved cursor") : "",
  ]);
  const header = ["MIGRATION", "DIRECTION", "TABLE", ...(down ? ["DOWN STEP"] : []), ""];
  return `${verb} ${n} migration${n === 1 ? "" : "s"}:\n${table(c, header, rows)}`;
}

function summary(ctx: Context, run: RunView): string {
  const { c } = ctx;
  const docs = run.items.reduce((sum, i) => sum + i.processed, 0);
  const updated = run.items.reduce((sum, i) => sum + i.updated, 0);
  const took = run.endedAt !== undefined ? ` in ${duration(run.endedAt - run.startedAt)}` : "";
  const done = run.items.filter((i) => i.status === "completed").length;
  if (run.status === "succeeded") {
    return `${c.green("✔")} Run ${run.runId} succeeded${took}: ${done} migration${done === 1 ? "" : "s"}, ${count(docs)} documents (${count(updated)} updated).\n`;
  }
  const failed = run.items.find((i) => i.status === "failed");
  if (run.status === "failed") {
    const what = failed ? `Migration ${failed.id} failed: ${failed.error ?? run.error ?? "unknown error"}` : `Run failed: ${run.error ?? "unknown error"}`;
    return (
      `${c.red("✖")} ${what}\n` +
      `  Fix the migration and deploy, then run \`convex-migrate ${run.direction}\` again: it resumes from the last committed batch.\n`
    );
  }
  return (
    `${c.magenta("■")} Run ${run.runId} was canceled after ${done} migration${done === 1 ? "" : "s"}.\n` +
    `  Run \`convex-migrate ${run.direction}\` to resume it.\n`
  );
}

/** Read `status` (a query: it never competes with the run) until the run ends or time is up. */
export async function follow(
  ctx: Context,
  runId: string,
  timeoutMs: number,
): Promise<{ run: RunView; timedOut: boolean }> {
  const progress = new Progress(ctx.human, ctx.c);
  const deadline = Date.now() + timeoutMs;
  let failures = 0;
  for (;;) {
    let report: StatusReport;
    try {
      report = (await ctx.call("status", { limit: 5 }, "query")) as StatusReport;
      failures = 0;
    } catch (error) {
      if (++failures >= STATUS_RETRIES) throw error;
      await sleep(ctx.config.pollIntervalMs, ctx.io.signal);
      continue;
    }
    const run =
      report.activeRun?.runId === runId ? report.activeRun : report.recentRuns.find((r) => r.runId === runId);
    if (!run) throw new CliError(`Run ${runId} is no longer on this deployment.`, EXIT.FAILED, "Check `convex-migrate status`.");
    if (run.status !== "running") {
      progress.finish(run);
      return { run, timedOut: false };
    }
    progress.update(run);
    if (Date.now() >= deadline || ctx.io.signal?.aborted) {
      progress.finish(run);
      return { run, timedOut: true };
    }
    await sleep(Math.min(ctx.config.pollIntervalMs, Math.max(0, deadline - Date.now())), ctx.io.signal);
  }
}
