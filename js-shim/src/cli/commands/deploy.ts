/**
 * `deploy`: `npx convex deploy <flags>`, then `up`, waiting and strict. A
 * failed deploy stops here: migrating data for code that did not ship
 * would leave the two out of step.
 */
import type { Context } from "../context.js";
import { CliError, EXIT, type ExitCode } from "../errors.js";
import type { Target } from "../transport/convexRun.js";
import { runMigrations, type RunOptions } from "./up.js";

/**
 * The target flags `convex deploy` shares with `convex run`, added to its
 * flags unless given there already, so `deploy --preview-name pr-7` deploys
 * to and migrates the same preview.
 */
export function deployArgs(convexArgs: string[], target: Target): string[] {
  const has = (...flags: string[]) => convexArgs.some((a) => flags.some((f) => a === f || a.startsWith(`${f}=`)));
  return [
    ...convexArgs,
    ...(target.previewName !== undefined && !has("--preview-name", "--preview-create")
      ? ["--preview-name", target.previewName]
      : []),
    ...(target.envFile !== undefined && !has("--env-file") ? ["--env-file", target.envFile] : []),
  ];
}

export async function deploy(ctx: Context, convexArgs: string[], target: Target, opts: RunOptions): Promise<ExitCode> {
  const args = deployArgs(convexArgs, target);
  ctx.human.write(`${ctx.c.dim("$")} npx convex deploy${args.length ? ` ${args.join(" ")}` : ""}\n`);
  try {
    await ctx.transport.deploy(args);
  } catch (error) {
    throw new CliError(
      `${(error as Error).message} Nothing was migrated.`,
      EXIT.FAILED,
      "Fix the deploy error above, then run `convex-migrate deploy` again.",
    );
  }
  return await runMigrations(ctx, { ...opts, direction: "up", strict: true, wait: true }, "deploy");
}
