/**
 * `status`: every migration's state, the active run, recent runs with their
 * release records, pending ids and drift. Reads with the `status` query only.
 */
import { createLogUpdate } from "log-update";
import type { Context } from "../context.js";
import { EXIT, usageError, type ExitCode } from "../errors.js";
import { isLiveTerminal, sleep } from "../io.js";
import {
  driftLines,
  heading,
  idWidthOf,
  itemLine,
  migrationsTable,
  releaseLine,
  repairLines,
  runHeadline,
  runsTable,
} from "../output.js";
import type { StatusReport } from "../types.js";

export type StatusOptions = { watch: boolean; exitCode: boolean; limit?: number };

/** How many recent runs `status` shows. */
const RECENT_RUNS = 5;

export async function status(ctx: Context, opts: StatusOptions): Promise<ExitCode> {
  if (opts.watch && ctx.json) {
    throw usageError("--watch and --json cannot be combined.", "Use --json alone for one snapshot, or --watch to follow live.");
  }
  const read = async () =>
    (await ctx.call("status", { limit: opts.limit ?? RECENT_RUNS }, "query")) as StatusReport;
  if (opts.watch) return await watch(ctx, read, opts);
  const report = await read();
  if (ctx.json) ctx.emit(report);
  else ctx.human.write(render(ctx, report));
  return opts.exitCode ? exitCodeOf(ctx, report) : EXIT.OK;
}

/** `--exit-code`: 3 when drift blocks a run, else 4 when migrations are pending, else 0. */
export function exitCodeOf(ctx: Context, report: StatusReport): ExitCode {
  const blocking = report.drift.some((d) => d.blocking || (ctx.config.strict && d.kind === "out_of_order"));
  if (blocking && !ctx.config.allowDrift) return EXIT.DRIFT;
  return report.pending.length > 0 ? EXIT.PENDING : EXIT.OK;
}

async function watch(ctx: Context, read: () => Promise<StatusReport>, opts: StatusOptions): Promise<ExitCode> {
  const live = isLiveTerminal(ctx.human) ? createLogUpdate(ctx.human as NodeJS.WriteStream) : undefined;
  let last = "";
  let report: StatusReport | undefined;
  while (!ctx.io.signal?.aborted) {
    report = await read();
    const text = render(ctx, report);
    if (live) live(text);
    else if (text !== last) ctx.human.write(`${text}\n`);
    last = text;
    await sleep(ctx.config.pollIntervalMs, ctx.io.signal);
  }
  live?.done();
  return opts.exitCode && report ? exitCodeOf(ctx, report) : EXIT.OK;
}

export function render(ctx: Context, report: StatusReport): string {
  const { c } = ctx;
  const now = Date.now();
  let out = heading(c, "Migrations") + migrationsTable(c, report.migrations);
  if (report.activeRun) {
    const run = report.activeRun;
    out += heading(c, "Active run");
    out += `  ${runHeadline(c, run)}  ${releaseLine(c, run)}\n`;
    out += run.items.map((i) => `  ${itemLine(c, i, now, idWidthOf(run.items))}\n`).join("");
  }
  if (report.recentRuns.length > 0) out += heading(c, "Recent runs") + runsTable(c, report.recentRuns);
  const repairs = repairLines(c, report.recentRuns);
  if (repairs) out += heading(c, "Repairs") + repairs;
  out += "\n";
  const n = report.pending.length;
  out +=
    n > 0
      ? `${c.yellow("!")} ${n} pending migration${n === 1 ? "" : "s"}: run \`convex-migrate up\` to apply ${n === 1 ? "it" : "them"}.\n`
      : `${c.green("✔")} Every migration in the manifest is applied.\n`;
  if (report.drift.length > 0) out += heading(c, "Drift") + driftLines(c, report.drift);
  return out;
}
