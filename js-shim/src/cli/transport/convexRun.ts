/**
 * Reaches a real deployment through `npx convex run`, the way a developer
 * would by hand. The child gets this process's whole environment, so
 * CONVEX_DEPLOY_KEY, CONVEX_URL and every other CONVEX_* variable reach it
 * (a CLI that dropped the deploy key is why this matters); the key itself is
 * never printed.
 */
import { spawn } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import type { Env, Out } from "../io.js";
import { TransportError, type FunctionKind, type Transport } from "./types.js";

/** The deployment a command talks to; passed through to `npx convex run`. */
export type Target = {
  prod?: boolean;
  previewName?: string;
  deploymentName?: string;
  envFile?: string;
};

/** The flags `npx convex run` understands for choosing a deployment. */
export function targetArgs(target: Target): string[] {
  return [
    ...(target.prod ? ["--prod"] : []),
    ...(target.previewName !== undefined ? ["--preview-name", target.previewName] : []),
    ...(target.deploymentName !== undefined ? ["--deployment-name", target.deploymentName] : []),
    ...(target.envFile !== undefined ? ["--env-file", target.envFile] : []),
  ];
}

type Spawned = { code: number | null; stdout: string; stderr: string; error?: Error };

export class ConvexRunTransport implements Transport {
  constructor(
    private readonly options: {
      target: Target;
      env: Env;
      cwd: string;
      /** Where `convex deploy` output goes (stderr, so `--json` keeps stdout clean). */
      log: Out;
    },
  ) {}

  async run(fn: string, args: Record<string, unknown>, _kind: FunctionKind): Promise<unknown> {
    // `convex run` itself tells queries from mutations; `kind` matters in-process only.
    const argv = ["convex", "run", fn, JSON.stringify(args), ...targetArgs(this.options.target)];
    const result = await this.spawnNpx(argv);
    if (result.error) throw this.startError(result.error);
    if (result.code !== 0) {
      const text = stripVTControlCharacters(mask(`${result.stderr}\n${result.stdout}`, this.options.env));
      const data = convexErrorData(text);
      const message = messageOf(data) ?? lastMeaningfulLines(text) ?? `npx convex run ${fn} exited with ${result.code}`;
      throw new TransportError(message, data);
    }
    try {
      return parseReply(result.stdout);
    } catch {
      throw new TransportError(
        `npx convex run ${fn} answered with no JSON result: ${lastMeaningfulLines(mask(result.stdout, this.options.env)) ?? "(empty)"}`,
      );
    }
  }

  async deploy(args: string[]): Promise<void> {
    const write = (text: string) => this.options.log.write(text);
    const out = { stdout: new LineMasker(this.options.env, write), stderr: new LineMasker(this.options.env, write) };
    const result = await this.spawnNpx(["convex", "deploy", ...args], (stream, chunk) => out[stream].push(chunk));
    out.stdout.flush();
    out.stderr.flush();
    if (result.error) throw this.startError(result.error);
    if (result.code !== 0) throw new TransportError(`npx convex deploy exited with code ${result.code}.`);
  }

  private startError(error: Error) {
    return new TransportError(
      `Could not start npx convex: ${mask(error.message, this.options.env)}. Install convex in this project (npm i convex) and make sure npx is on PATH.`,
    );
  }

  /** Run `npx <argv>`; `onOutput` sees its output as it arrives (pass it through a LineMasker before printing). */
  private spawnNpx(argv: string[], onOutput?: (stream: "stdout" | "stderr", chunk: string) => void): Promise<Spawned> {
    return new Promise((resolve) => {
      const windows = process.platform === "win32";
      const child = spawn(windows ? "npx.cmd" : "npx", argv, {
        cwd: this.options.cwd,
        env: this.options.env as NodeJS.ProcessEnv,
        stdio: ["inherit", "pipe", "pipe"],
        shell: windows,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        onOutput?.("stdout", chunk);
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        onOutput?.("stderr", chunk);
      });
      child.on("error", (error) => resolve({ code: null, stdout, stderr, error }));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }
}

/**
 * The JSON value in `convex run` output, which may carry banner or warning
 * lines before or after it. Tries the whole text first, then each span of
 * lines starting at a line that can open a JSON value.
 */
export function parseReply(stdout: string): unknown {
  const whole = stdout.trim();
  try {
    return JSON.parse(whole);
  } catch {
    // Banner text around the value: look for it line by line.
  }
  const lines = stdout.split(/\r?\n/);
  for (let start = 0; start < lines.length; start++) {
    if (!/^\s*([[{"]|-?\d|null\b|true\b|false\b)/.test(lines[start] ?? "")) continue;
    for (let end = lines.length; end > start; end--) {
      try {
        return JSON.parse(lines.slice(start, end).join("\n"));
      } catch {
        // Not this span; try a shorter one.
      }
    }
  }
  throw new Error("no JSON value in the output");
}

/**
 * Hide secrets from text that may be printed: the deploy key's value, and
 * anything shaped like a Convex deploy key (`prod:name|token`).
 */
export function mask(text: string, env: Env): string {
  let out = text;
  for (const name of ["CONVEX_DEPLOY_KEY", "CONVEX_SELF_HOSTED_ADMIN_KEY", "CONVEX_ADMIN_KEY"]) {
    const secret = env[name];
    if (secret && secret.length >= 4) out = out.split(secret).join("***");
  }
  return out.replace(/\b((?:prod|preview|dev|project):[\w:-]+\|)[\w.=+/-]+/g, "$1***");
}

/**
 * Masks a child's output as it streams. A per-chunk mask misses a key that
 * arrives split across two writes (and prints it in halves), so text is held
 * until its line ends, masked whole, and passed on; `flush` masks and passes
 * on the rest when the child exits. `\r` ends a line too: keys never contain
 * it, and output that redraws a spinner with it stays live.
 */
export class LineMasker {
  private pending = "";

  constructor(
    private readonly env: Env,
    private readonly write: (text: string) => void,
  ) {}

  push(chunk: string): void {
    const text = this.pending + chunk;
    const end = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"));
    if (end === -1) {
      this.pending = text;
      return;
    }
    this.pending = text.slice(end + 1);
    this.write(mask(text.slice(0, end + 1), this.env));
  }

  flush(): void {
    if (this.pending === "") return;
    const rest = this.pending;
    this.pending = "";
    this.write(mask(rest, this.env));
  }
}

/** The ConvexError payload `convex run` prints for a function that threw one. */
function convexErrorData(text: string): unknown {
  const match = /ConvexError:\s*(\{.*\})\s*$/m.exec(text);
  if (!match?.[1]) return undefined;
  try {
    return JSON.parse(match[1]);
  } catch {
    return undefined;
  }
}

function messageOf(data: unknown): string | undefined {
  const message = (data as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}

/** The error lines worth showing: stack frames and request ids dropped. */
function lastMeaningfulLines(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("at ") && !/^npm (warn|notice)/i.test(l));
  const uncaught = lines.find((l) => /^Uncaught /.test(l));
  if (uncaught) return uncaught.replace(/^Uncaught (Error: )?/, "");
  return lines.slice(-2).join(" ") || undefined;
}
