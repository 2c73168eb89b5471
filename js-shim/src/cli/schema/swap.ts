/**
 * Putting another schema module in place of the user's schema file for one
 * push, and putting the user's file back whatever happens: the push
 * succeeds, fails or throws, or the process is interrupted (Ctrl-C, or
 * SIGTERM/SIGHUP from a CI runner cancelling the job). The working tree is
 * never left modified by a run that ends.
 */
import fs from "node:fs";

/** Signals a CI runner or a terminal sends to stop a job. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Conventional exit status for death by a signal: 128 + its number. */
const SIGNAL_EXIT: Record<(typeof STOP_SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Run `fn` with `file` holding `content`, then restore the file's original
 * bytes (and mode). On a stop signal the file is restored first and the
 * process then exits with the signal's status.
 *
 * @example
 * ```ts
 * await withFileSwapped("convex/schema.ts", bridgeSource, () => transport.deploy(args));
 * ```
 */
export async function withFileSwapped<T>(file: string, content: string, fn: () => Promise<T>): Promise<T> {
  const original = fs.readFileSync(file);
  const { mode } = fs.statSync(file);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    fs.writeFileSync(file, original, { mode });
  };
  const onSignal = (signal: (typeof STOP_SIGNALS)[number]) => {
    restore();
    process.exit(SIGNAL_EXIT[signal]);
  };
  const handlers = STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  // A `process.exit` elsewhere while the file is swapped still restores it.
  process.on("exit", restore);
  try {
    fs.writeFileSync(file, content);
    return await fn();
  } finally {
    restore();
    for (const [signal, handler] of handlers) process.off(signal, handler);
    process.off("exit", restore);
  }
}
