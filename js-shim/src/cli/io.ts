/**
 * Everything a command touches outside itself, passed in so tests and the
 * demo can run the real commands against captured output, a chosen working
 * folder and an in-process deployment.
 */
import pc from "picocolors";
import type { Transport } from "./transport/types.js";

/** Where a command writes: process.stdout/stderr, or a capture in tests. */
export type Out = { write(text: string): unknown; isTTY?: boolean; columns?: number };

export type Env = Record<string, string | undefined>;

export type Io = {
  stdout: Out;
  stderr: Out;
  /** The environment: CI variables, CONVEX_* (passed on to `npx convex`), NO_COLOR. */
  env: Env;
  /** The project root: where convex-migrate.json and the migrations folder are. */
  cwd: string;
  /** A deployment to use instead of `npx convex run` (tests, the demo). */
  transport?: Transport;
  /** Stops `status --watch` and waiting loops (tests; Ctrl-C ends the process otherwise). */
  signal?: AbortSignal;
  /** The clock for migration ids (tests pin it). */
  now?: () => Date;
};

/** The real process. */
export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

export type Colors = ReturnType<typeof pc.createColors>;

/** Colour when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR forces it. */
export function colorsFor(out: Out, env: Env): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0";
  const enabled = forced || (out.isTTY === true && env.NO_COLOR === undefined && env.TERM !== "dumb");
  return pc.createColors(enabled);
}

/**
 * Whether to redraw lines in place: a terminal that reports its width (a
 * pseudo-terminal without a size reports 0 columns, and redrawing would
 * print nothing).
 */
export function isLiveTerminal(out: Out): boolean {
  return out.isTTY === true && (out.columns ?? 0) > 0;
}

/** Resolves after `ms`, or early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
