/**
 * How the CLI reaches a deployment: one call per app function. Two
 * implementations: `npx convex run` for real deployments, and an in-process
 * convex-test deployment for the demo and the CLI's tests.
 */

export type FunctionKind = "query" | "mutation";

export interface Transport {
  /** Call `<module>:<fn>` with JSON arguments and return its JSON result. */
  run(fn: string, args: Record<string, unknown>, kind: FunctionKind): Promise<unknown>;
  /** Push the project's code (`npx convex deploy <args>`); throws when that fails. */
  deploy(args: string[]): Promise<void>;
}

/**
 * A call that failed on the deployment or on the way there. `data` is the
 * function's ConvexError payload when there is one (e.g. an engine refusal
 * with its stable `code`).
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "TransportError";
  }
}
