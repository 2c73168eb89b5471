/**
 * Exit codes a CI job can act on, and the one error type commands throw.
 * `main` prints the message and the hint (one or two lines) and exits with
 * the code; nothing else in the CLI calls `process.exit`.
 */

/** The process exit codes of SPEC.md. */
export const EXIT = {
  /** Done, or nothing to do. */
  OK: 0,
  /** A migration failed, was canceled or timed out; or the deployment could not be reached. */
  FAILED: 1,
  /** Usage or configuration error: unknown flag, bad value, unknown config key. */
  USAGE: 2,
  /** Blocked by drift. */
  DRIFT: 3,
  /** Pending migrations exist (`status --exit-code`). */
  PENDING: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error with the exit code to leave with and, optionally, what to do next. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Shorthand for a usage or configuration error (exit 2). */
export const usageError = (message: string, hint?: string) => new CliError(message, EXIT.USAGE, hint);
