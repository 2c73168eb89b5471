/**
 * How the demo runs one CLI command: it prints the command, runs it through
 * the real CLI, records it for the summary, and stops the demo when the exit
 * code is not the one the script expects. The demo is a user of the CLI, so
 * the CLI hands it its runner rather than the demo importing the program
 * that loads it.
 */
import { CliError, EXIT, type ExitCode } from "../errors.js";
import type { Colors, Io } from "../io.js";
import { duration } from "../output.js";

/** The CLI as the demo drives it: arguments and streams in, exit code out (`runCli`). */
export type CliRunner = (argv: string[], io: Io) => Promise<ExitCode>;

/** One command the demo ran, for its summary. */
export type Step = { command: string; exitCode: number; ms: number };

/**
 * A runner of CLI commands against `cliIo`, printing with `say` and
 * recording each command in `steps`; it throws when a command exits
 * otherwise than expected.
 */
export function demoCommands(
  cliIo: Io,
  { c, say, steps, run }: { c: Colors; say: (text?: string) => void; steps: Step[]; run: CliRunner },
): (args: string[], expected: ExitCode) => Promise<void> {
  return async (args, expected) => {
    const command = `convex-migrate ${args.join(" ")}`;
    say(`\n${c.dim("$")} ${c.bold(command)}`);
    const t0 = Date.now();
    const code = await run(args, cliIo);
    const ms = Date.now() - t0;
    steps.push({ command, exitCode: code, ms });
    say(c.dim(`→ exit ${code} (${duration(ms)})`));
    if (code !== expected) {
      throw new CliError(`The demo expected exit ${expected} from \`${command}\`, got ${code}.`, EXIT.FAILED);
    }
  };
}
