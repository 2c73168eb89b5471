/** `cancel`: stop the active run (or `--run-id`) between batches; `up` resumes it. */
import type { Context } from "../context.js";
import { EXIT, type ExitCode } from "../errors.js";
import type { CancelResult } from "../types.js";

export async function cancel(ctx: Context, opts: { runId?: string }): Promise<ExitCode> {
  const result = (await ctx.call(
    "cancel",
    opts.runId !== undefined ? { runId: opts.runId } : {},
    "mutation",
  )) as CancelResult;
  if (ctx.json) ctx.emit(result);
  else ctx.human.write(`${result.canceled ? ctx.c.magenta("■") : ctx.c.dim("·")} ${result.message}\n`);
  return EXIT.OK;
}
