/**
 * Running the CLI in-process: captured output, a copy of example/ inside the
 * repository (so its imports resolve), and an in-memory deployment of it.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import type { Io, Out } from "../../js-shim/src/cli/io";
import { migrationIds } from "../../js-shim/src/cli/commands/create";
import { runCli } from "../../js-shim/src/cli/program";
import { copyExampleProject, InProcessDeployment, REPO_ROOT } from "../../js-shim/src/cli/transport/inProcess";
import type { Transport } from "../../js-shim/src/cli/transport/types";

export type Capture = Out & { text: string };

export function capture(isTTY = false): Capture {
  const out = {
    text: "",
    isTTY,
    write(chunk: string) {
      out.text += chunk;
      return true;
    },
  };
  return out;
}

export type Result = { code: number; stdout: string; stderr: string };

/** Run `convex-migrate <args>` against a transport, in `cwd`. */
export async function cli(
  args: string[],
  options: { cwd: string; transport?: Transport; env?: Io["env"]; signal?: AbortSignal; now?: () => Date },
): Promise<Result> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(args, {
    stdout,
    stderr,
    env: options.env ?? { PATH: process.env.PATH },
    cwd: options.cwd,
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A copy of example/ under .demo/ with a fast poll interval. */
export function exampleProject(name: string, config: Record<string, unknown> = {}): string {
  const dir = copyExampleProject(path.join(REPO_ROOT, ".demo", `test-${name}-${process.pid}`));
  fs.writeFileSync(path.join(dir, "convex-migrate.json"), JSON.stringify({ pollIntervalMs: 20, ...config }));
  return dir;
}

export function removeProject(dir: string) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A project and its in-memory deployment, with a `cli` bound to both. */
export async function setup(name: string, config: Record<string, unknown> = {}) {
  const dir = exampleProject(name, config);
  const deployment = await InProcessDeployment.create(dir);
  return {
    dir,
    deployment,
    run: (...args: string[]) => cli(args, { cwd: dir, transport: deployment }),
    migrationFile: (id: string) => path.join(dir, "convex", "migrations", `${id}.ts`),
    seedTodos: (n: number, fields: (i: number) => Record<string, unknown> = () => ({})) =>
      deployment.inDatabase(async (ctx) => {
        for (let i = 0; i < n; i++) await ctx.db.insert("todos", { text: `todo ${i}`, ...fields(i) });
      }),
    todos: () => deployment.inDatabase(async (ctx) => await ctx.db.query("todos").collect()),
  };
}

/** The example's migration ids, read from its folder as `create` reads them. */
export const exampleIds = () => migrationIds(path.join(REPO_ROOT, "example", "convex", "migrations"));

/** The calls a stand-in `npx` appended to `log`, one JSON object a line (none before the first call). */
export function loggedCalls<T>(log: string): T[] {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** Edit a migration's source (changing its checksum); `from` must be in it. */
export function edit(file: string, from: string, to: string) {
  const source = fs.readFileSync(file, "utf8");
  expect(source).toContain(from);
  fs.writeFileSync(file, source.replace(from, to));
}
