/**
 * `repair`: accept edited or deleted applied migrations on the record. The
 * deployment stores the deployed checksums (and removals) in a run of kind
 * `repair` with the release record; no data is touched.
 */
import type { Context } from "../context.js";
import { EXIT, type ExitCode } from "../errors.js";
import type { Release } from "../release.js";
import type { RepairResult } from "../types.js";

export type RepairOptions = { ids: string[]; release: Release };

export async function repair(ctx: Context, opts: RepairOptions): Promise<ExitCode> {
  const result = (await ctx.call(
    "repair",
    { ...(opts.ids.length > 0 ? { ids: opts.ids } : {}), release: opts.release },
    "mutation",
  )) as RepairResult;
  if (ctx.json) ctx.emit(result);
  else ctx.human.write(render(ctx, result));
  return EXIT.OK;
}

function render(ctx: Context, result: RepairResult): string {
  const { c } = ctx;
  if (result.status === "noop") {
    return `${c.dim("·")} Nothing to repair: no applied migration was edited or removed.\n`;
  }
  const lines = result.repaired.map((r) =>
    r.newChecksum !== undefined
      ? `${c.green("✔")} ${r.id}: accepted the deployed code (${r.oldChecksum} v${r.oldForm} → ${r.newChecksum} v${r.newForm})`
      : `${c.green("✔")} ${r.id}: recorded as removed (was ${r.oldChecksum} v${r.oldForm})`,
  );
  return `${lines.join("\n")}\nRepair ${result.runId} is on the release history; \`convex-migrate status\` shows it.\n`;
}
