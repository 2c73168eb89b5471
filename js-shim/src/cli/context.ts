/**
 * What every command receives: the process (io), the merged config, where
 * human output goes (stdout, or stderr under `--json` so stdout carries one
 * JSON document), and the deployment.
 */
import type { Config } from "./config.js";
import { colorsFor, type Colors, type Io, type Out } from "./io.js";
import { ConvexRunTransport, type Target } from "./transport/convexRun.js";
import type { FunctionKind, Transport } from "./transport/types.js";

export type Context = {
  io: Io;
  config: Config;
  json: boolean;
  /** Human output: stdout, or stderr under `--json`. */
  human: Out;
  c: Colors;
  transport: Transport;
  /** Call one of the app's migration functions (`<functionsModule>:<name>`). */
  call(name: "start" | "status" | "cancel" | "repair", args: Record<string, unknown>, kind: FunctionKind): Promise<unknown>;
  /** Print the one JSON document of a `--json` command. */
  emit(value: unknown): void;
};

export function makeContext(io: Io, config: Config, options: { json?: boolean; target?: Target }): Context {
  const json = options.json ?? false;
  const human = json ? io.stderr : io.stdout;
  const transport =
    io.transport ?? new ConvexRunTransport({ target: options.target ?? {}, env: io.env, cwd: io.cwd, log: io.stderr });
  return {
    io,
    config,
    json,
    human,
    c: colorsFor(human, io.env),
    transport,
    call: (name, args, kind) => transport.run(`${config.functionsModule}:${name}`, args, kind),
    emit: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
