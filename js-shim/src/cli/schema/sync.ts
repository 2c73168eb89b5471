/**
 * `convex-migrate sync`: prepare a deployment for another branch. Run it
 * before deploying that branch: the code deployed now still has the down
 * steps of the migrations the other branch does not know, so it rolls them
 * back (newest first) and the other branch's `up` then starts from a state
 * its own code understands.
 */
import pc from "picocolors";
import type { DriftFinding } from "../../engine-types/DriftFinding.js";
import type { PlanItem } from "../../engine-types/PlanItem.js";
import { EXIT, type ExitCode } from "../errors.js";
import type { Colors } from "../io.js";
import type { Release } from "../release.js";
import { missingFunction } from "./check.js";
import { knownMigrationIds } from "./load.js";
import type { SchemaCommandContext } from "./types.js";

export type SyncOptions = {
  /** The next branch's migrations folder (file names) or its manifest file. */
  keepFrom: string;
  dryRun?: boolean;
  allowDrift?: boolean;
  /** The release record of the run (environment, commit, tag, initiatedBy, url). */
  release?: Release;
  /** Waits for the rollback run (of `rollBack`, newest first) as `down` does and returns the exit code. */
  waitForRun: (runId: string, rollBack: string[]) => Promise<ExitCode>;
};

/** The whole answer, also the `--json` document. */
export type SyncReport = {
  keepFrom: string;
  /** The ids the next branch knows (sent as `keep`). */
  keep: string[];
  /** `refused`: the engine refused (e.g. a migration to roll back has no down step); nothing changed. */
  status: "running" | "noop" | "dry_run" | "drift_blocked" | "already_running" | "refused";
  runId?: string;
  /** The migrations rolled back (or that would be), newest first. */
  rollBack: string[];
  drift: DriftFinding[];
  /** Why a refused sync was refused. */
  error?: { code: string; message: string; hint?: string };
  exitCode: ExitCode;
};

type StartResult = {
  status: "running" | "noop" | "dry_run" | "drift_blocked";
  runId?: string;
  alreadyRunning?: boolean;
  plan: PlanItem[];
  drift: DriftFinding[];
};

/**
 * Roll back the applied migrations the next branch does not know.
 *
 * @example
 * ```ts
 * const report = await sync(ctx, { keepFrom: "../other-branch/convex/migrations", waitForRun });
 * ```
 */
export async function sync(ctx: SchemaCommandContext, opts: SyncOptions): Promise<SyncReport> {
  const keep = knownMigrationIds(opts.keepFrom, ctx.cwd);
  const base = { keepFrom: opts.keepFrom, keep, rollBack: [] as string[], drift: [] as DriftFinding[] };
  const fn = `${ctx.functionsModule}:start`;
  let result: StartResult;
  try {
    const args = {
      direction: "down",
      keep,
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.allowDrift ? { allowDrift: true } : {}),
      ...(opts.release ? { release: opts.release } : {}),
    };
    result = (await ctx.transport.run(fn, args, "mutation")) as StartResult;
  } catch (error) {
    const refusal = engineRefusal(error);
    if (refusal) return { ...base, status: "refused", error: refusal, exitCode: EXIT.USAGE };
    throw missingFunction(error, fn) ?? error;
  }
  const rolled = { ...base, rollBack: result.plan.map((p) => p.id), drift: result.drift };
  if (result.alreadyRunning) {
    return { ...rolled, rollBack: [], status: "already_running", runId: result.runId!, exitCode: EXIT.FAILED };
  }
  switch (result.status) {
    case "drift_blocked":
      return { ...rolled, status: "drift_blocked", exitCode: EXIT.DRIFT };
    case "noop":
    case "dry_run":
      return { ...rolled, status: result.status, exitCode: EXIT.OK };
    case "running":
      return {
        ...rolled,
        status: "running",
        runId: result.runId!,
        exitCode: await opts.waitForRun(result.runId!, rolled.rollBack),
      };
  }
}

/** The engine's refusal carried by a failed `start`, e.g. NO_DOWN_STEP. */
function engineRefusal(error: unknown): SyncReport["error"] | undefined {
  const data = (error as { data?: unknown }).data;
  if (data && typeof data === "object" && (data as { kind?: unknown }).kind === "ENGINE_ERROR") {
    const d = data as { code: string; message: string; hint?: string };
    return { code: d.code, message: d.message, ...(d.hint ? { hint: d.hint } : {}) };
  }
  // Through `npx convex run` only the text survives.
  const message = error instanceof Error ? error.message : String(error);
  const noDown = /migration "([^"]+)" has no down step/.exec(message);
  if (noDown) return { code: "NO_DOWN_STEP", message: noDown[0] };
  return undefined;
}

/** The report for people, ending with what to do next. */
export function formatSync(report: SyncReport, c: Colors = pc.createColors(false)): string {
  const ids = (list: string[]) => list.map((id) => `  ${id}`).join("\n");
  switch (report.status) {
    case "refused":
      return [
        c.red(`Cannot sync: ${report.error?.message ?? "the rollback was refused"}. Nothing was changed.`),
        report.error?.hint ?? "Add a down step to that migration and deploy it before switching branches.",
      ].join("\n");
    case "already_running":
      return c.red(`Run ${report.runId} is active. Wait for it (convex-migrate status --watch) or cancel it, then sync again.`);
    case "drift_blocked":
      return [
        c.red("Blocked by drift between the deployed code and the deployment's history:"),
        ...report.drift.filter((d) => d.blocking).map((d) => `  ${d.id}: ${d.message}`),
        "Resolve it, or pass --allow-drift.",
      ].join("\n");
    case "noop":
      return `The deployment has applied no migration that ${report.keepFrom} lacks: deploy the new branch, then run \`convex-migrate up\`.`;
    case "dry_run":
      return `Would roll back, newest first:\n${ids(report.rollBack)}\nNothing was changed.`;
    case "running":
      return report.exitCode === EXIT.OK
        ? [
            `Rolled back, newest first:\n${ids(report.rollBack)}`,
            c.green("Now deploy the new branch (npx convex deploy), then run `convex-migrate up`."),
          ].join("\n")
        : c.red(`The rollback run ${report.runId} did not finish; see \`convex-migrate status\`. Do not deploy the new branch yet.`);
  }
}
