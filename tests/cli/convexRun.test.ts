// @vitest-environment node
/**
 * The `npx convex run` transport against a stand-in `npx` placed first on
 * PATH: it records its argv and environment and answers like `convex run`
 * (a banner line, then the JSON value).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import type { RunOutcome } from "../../js-shim/src/cli/commands/up";
import { LineMasker, parseReply, mask } from "../../js-shim/src/cli/transport/convexRun";
import { cli } from "./helpers";

const SECRET = "eyJ2c2VjcmV0dG9rZW4";
const DEPLOY_KEY = `prod:happy-otter-123|${SECRET}`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "convex-migrate-cli-"));
const bin = path.join(root, "bin");
const project = path.join(root, "project");
const log = path.join(root, "calls.jsonl");
const replies = path.join(root, "replies.json");
fs.mkdirSync(bin);
fs.mkdirSync(project);
// Node 20 itself reads an `--env-file` found anywhere in a script's argv, so it must exist.
fs.writeFileSync(path.join(project, ".env.ci"), "CONVEX_DEPLOYMENT=prod:happy-otter-123\n");
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// A stand-in for `npx convex ...`: records the call, then answers from replies.json.
fs.writeFileSync(
  path.join(bin, "npx"),
  `#!/usr/bin/env node
const fs = require("fs");
const argv = process.argv.slice(2);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("CONVEX_")));
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, env }) + "\\n");
const replies = JSON.parse(fs.readFileSync(${JSON.stringify(replies)}, "utf8"));
const reply = argv[1] === "deploy" ? replies.deploy : replies[argv[2]];
if (!reply) { process.stderr.write("no reply for " + argv.join(" ") + "\\n"); process.exit(9); }
const key = (text) => text.split("$KEY").join(process.env.CONVEX_DEPLOY_KEY);
if (reply.stdout) process.stdout.write(key(reply.stdout));
if (reply.stderr) process.stderr.write(key(reply.stderr));
// chunks: written one by one with a pause between, so they reach the CLI as separate reads.
const chunks = (reply.chunks || []).map(key);
const next = () => {
  if (chunks.length === 0) return process.exit(reply.code || 0);
  process.stderr.write(chunks.shift());
  setTimeout(next, 30);
};
next();
`,
  { mode: 0o755 },
);

type Reply = { stdout?: string; stderr?: string; chunks?: string[]; code?: number };
/** What `convex run` prints for a value: a banner, the JSON, sometimes a trailer. */
const ok = (value: unknown): Reply => ({
  stdout: `✔ Using deployment happy-otter-123\n${JSON.stringify(value, null, 2)}\nsome trailing notice\n`,
});

const run = (id: string, status: string) => ({
  runId: id,
  status,
  direction: "up",
  startedAt: 1_700_000_000_000,
  ...(status === "running" ? {} : { endedAt: 1_700_000_004_000 }),
  driftAllowed: false,
  release: {},
  items: [{ id: "20261101_090000_a", direction: "up", status: status === "running" ? "running" : "completed", processed: 10, updated: 10 }],
});
const statusReport = (runs: unknown[] = []) => ({
  activeRun: null,
  recentRuns: runs,
  migrations: [],
  pending: [],
  drift: [],
});

function answer(r: Record<string, Reply>) {
  fs.writeFileSync(replies, JSON.stringify(r));
}

function calls(): { argv: string[]; env: Record<string, string> }[] {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const env = (extra: Record<string, string> = {}) => ({
  PATH: `${bin}${path.delimiter}${process.env.PATH}`,
  CONVEX_DEPLOY_KEY: DEPLOY_KEY,
  CONVEX_URL: "https://happy-otter-123.convex.cloud",
  ...extra,
});

beforeEach(() => {
  fs.rmSync(log, { force: true });
  fs.rmSync(path.join(project, "convex-migrate.json"), { force: true });
});

describe("npx convex run transport", () => {
  test.each([
    [["--prod"]],
    [["--preview-name", "pr-42"]],
    [["--deployment-name", "happy-otter-123"]],
    [["--env-file", ".env.ci"]],
    [["--prod", "--env-file", ".env.ci"]],
  ])("status %j: target flags and CONVEX_* reach convex run; the key is never printed", async (flags) => {
    const report = statusReport([run("r1", "succeeded")]);
    answer({ "migrate:status": ok(report) });
    const r = await cli(["status", "--json", ...flags], { cwd: project, env: env({ CONVEX_SITE_URL: "https://x.site" }) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(report);
    const [call] = calls();
    expect(call?.argv).toEqual(["convex", "run", "migrate:status", JSON.stringify({ limit: 5 }), ...flags]);
    expect(call?.env).toMatchObject({
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      CONVEX_URL: "https://happy-otter-123.convex.cloud",
      CONVEX_SITE_URL: "https://x.site",
    });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  test("up starts with the release record from CI, then polls status (a query) until the run ends", async () => {
    answer({
      "migrate:start": ok({ status: "running", runId: "r1", plan: [{ id: "20261101_090000_a", direction: "up", table: "todos", resume: false }], drift: [] }),
      "migrate:status": ok(statusReport([run("r1", "succeeded")])),
    });
    const ci = {
      GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
      GITHUB_ACTOR: "octocat",
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_REPOSITORY: "acme/app",
      GITHUB_RUN_ID: "987",
      GITHUB_REF_TYPE: "tag",
      GITHUB_REF_NAME: "v3.1.0",
    };
    const r = await cli(["up", "--prod", "--json", "--batch-size", "50"], { cwd: project, env: env(ci) });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as RunOutcome).status).toBe("succeeded");
    const [start, ...polls] = calls();
    expect(start?.argv.slice(0, 3)).toEqual(["convex", "run", "migrate:start"]);
    expect(start?.argv.slice(4)).toEqual(["--prod"]);
    expect(JSON.parse(start?.argv[3] ?? "{}")).toEqual({
      direction: "up",
      dryRun: false,
      allowDrift: false,
      strict: false,
      batchSize: 50,
      release: {
        environment: "production",
        commit: ci.GITHUB_SHA,
        tag: "v3.1.0",
        initiatedBy: "octocat",
        url: "https://github.com/acme/app/actions/runs/987",
      },
    });
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((c) => c.argv[2] === "migrate:status")).toBe(true);
  });

  test("an error from the deployment is one masked line; a ConvexError's kind picks the exit code", async () => {
    answer({
      "migrate:cancel": {
        code: 1,
        stderr:
          '✖ Failed to run function "migrate:cancel":\nError: [Request ID: 1] Server Error\n' +
          'Uncaught ConvexError: {"kind":"UNKNOWN_RUN","message":"No run has id nope. Leave out --run-id to cancel the active run."}\n' +
          "    at handler (../convex/versioned.ts:260:10)\n",
      },
      "migrate:status": { code: 1, stderr: "✖ Error: Unauthorized: deploy key $KEY is not valid for this deployment\n" },
    });
    const r = await cli(["cancel", "--run-id", "nope", "--prod"], { cwd: project, env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("No run has id nope");
    expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);

    const denied = await cli(["status"], { cwd: project, env: env() });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("Unauthorized");
    expect(denied.stderr).not.toContain(SECRET);
    expect(denied.stderr).toContain("***");
  });

  test("functionsModule from convex-migrate.json names the functions", async () => {
    fs.writeFileSync(path.join(project, "convex-migrate.json"), JSON.stringify({ functionsModule: "ops/migrate" }));
    answer({ "ops/migrate:status": ok(statusReport()) });
    const r = await cli(["status", "--exit-code"], { cwd: project, env: env() });
    expect(r.code).toBe(0);
    expect(calls()[0]?.argv[2]).toBe("ops/migrate:status");
  });

  test("deploy: a failing convex deploy exits 1 before any migration starts", async () => {
    answer({ deploy: { code: 1, stderr: "✖ TypeScript typecheck failed\n" } });
    const r = await cli(["deploy", "--prod", "--", "--cmd", "npm run build"], { cwd: project, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Nothing was migrated");
    expect(calls().map((c) => c.argv.slice(0, 2))).toEqual([["convex", "deploy"]]);
    expect(calls()[0]?.argv).toEqual(["convex", "deploy", "--cmd", "npm run build"]);
  });

  test("deploy: after convex deploy, up runs strict with the target flags", async () => {
    answer({
      deploy: { stdout: "✔ Deployed Convex functions to https://happy-otter-123.convex.cloud\n" },
      "migrate:start": ok({ status: "noop", plan: [], drift: [] }),
    });
    const r = await cli(["deploy", "--prod", "--json", "--", "-y"], { cwd: project, env: env() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: "deploy", status: "noop" });
    const [deployCall, start] = calls();
    expect(deployCall?.argv).toEqual(["convex", "deploy", "-y"]);
    expect(start?.argv.at(-1)).toBe("--prod");
    expect(JSON.parse(start?.argv[3] ?? "{}")).toMatchObject({ strict: true });
    // convex deploy's own output went to stderr, keeping stdout one JSON document.
    expect(r.stderr).toContain("Deployed Convex functions");
  });

  test("deploy: --preview-name and --env-file reach both convex deploy and convex run", async () => {
    answer({ deploy: { stdout: "✔ Deployed\n" }, "migrate:start": ok({ status: "noop", plan: [], drift: [] }) });
    const r = await cli(["deploy", "--preview-name", "pr-7", "--env-file", ".env.ci"], { cwd: project, env: env() });
    expect(r.code).toBe(0);
    const [deployCall, start] = calls();
    expect(deployCall?.argv).toEqual(["convex", "deploy", "--preview-name", "pr-7", "--env-file", ".env.ci"]);
    expect(start?.argv.slice(4)).toEqual(["--preview-name", "pr-7", "--env-file", ".env.ci"]);
    expect(JSON.parse(start?.argv[3] ?? "{}").release).toMatchObject({ environment: "preview:pr-7" });
  });

  test("deploy: a deploy key split across two writes of convex deploy is never printed", async () => {
    // Split inside the token: a per-chunk mask hid the first half and printed the second.
    const at = DEPLOY_KEY.length - 8;
    answer({
      deploy: { chunks: [`✔ Using key ${DEPLOY_KEY.slice(0, at)}`, `${DEPLOY_KEY.slice(at)} for the deploy\n`, "✔ Deployed"] },
      "migrate:start": ok({ status: "noop", plan: [], drift: [] }),
    });
    const r = await cli(["deploy", "--prod"], { cwd: project, env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("✔ Using key *** for the deploy\n");
    // The tail without a newline is flushed when convex deploy exits.
    expect(r.stderr).toContain("✔ Deployed");
    expect(r.stderr + r.stdout).not.toContain(DEPLOY_KEY.slice(at));
    expect(r.stderr + r.stdout).not.toContain(SECRET.slice(0, 6));
  });

  test("--env-file naming a file that does not exist is a usage error naming it; nothing runs", async () => {
    answer({ "migrate:status": ok(statusReport()) });
    const r = await cli(["status", "--env-file", ".env.staging"], { cwd: project, env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--env-file .env.staging: no such file");
    expect(r.stderr).toContain(path.join(project, ".env.staging"));
    expect(calls()).toEqual([]);
  });

  test("--env-file with a real .env file reaches convex run through a Node process on this Node version", async () => {
    answer({ "migrate:status": ok(statusReport()) });
    const main = path.resolve(__dirname, "../../js-shim/src/cli/main.ts");
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    const r = spawnSync(tsx, [main, "status", "--json", "--env-file", ".env.ci"], {
      cwd: project,
      env: { ...env(), HOME: process.env.HOME ?? root },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ pending: [] });
    expect(calls()[0]?.argv.slice(-2)).toEqual(["--env-file", ".env.ci"]);
  });

  test("without npx on PATH the error says what to install", async () => {
    const empty = fs.mkdtempSync(path.join(root, "empty-"));
    const r = await cli(["status"], { cwd: project, env: { PATH: empty, CONVEX_DEPLOY_KEY: DEPLOY_KEY } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("npx");
  });
});

describe("parseReply", () => {
  test("reads the JSON value between banner lines", () => {
    expect(parseReply('{"a":1}')).toEqual({ a: 1 });
    expect(parseReply('banner\n{\n  "a": [1, 2]\n}\ntrailer {not json}\n')).toEqual({ a: [1, 2] });
    expect(parseReply("- Preparing\n✔ Done\n[\n  1\n]\n")).toEqual([1]);
    expect(() => parseReply("no json here")).toThrow();
  });

  test.each([
    ["a prod:…| deploy key", { CONVEX_DEPLOY_KEY: DEPLOY_KEY }, DEPLOY_KEY, SECRET],
    ["a key without the prod:…| prefix", { CONVEX_SELF_HOSTED_ADMIN_KEY: "selfhosted01234567890abcdef" }, "selfhosted01234567890abcdef", "selfhosted01234567890abcdef"],
  ])("LineMasker: %s split at every offset is never written, whole or in part", (_kind, keyEnv, key, secret) => {
    const text = `Deploying with ${key}\r\n✔ key ${key} accepted\nlast line ${key}`;
    const expected = mask(text, keyEnv);
    expect(expected).not.toContain(secret);
    for (let at = 0; at <= text.length; at++) {
      const written: string[] = [];
      const masker = new LineMasker(keyEnv, (t) => written.push(t));
      masker.push(text.slice(0, at));
      masker.push(text.slice(at));
      masker.flush();
      expect(written.join("")).toBe(expected);
    }
    // And one character per write.
    const written: string[] = [];
    const masker = new LineMasker(keyEnv, (t) => written.push(t));
    for (const ch of text) masker.push(ch);
    masker.flush();
    expect(written.join("")).toBe(expected);
  });

  test("mask hides the deploy key and anything shaped like one", () => {
    expect(mask(`key ${DEPLOY_KEY} here`, { CONVEX_DEPLOY_KEY: DEPLOY_KEY })).toBe("key *** here");
    expect(mask("preview:team:proj|abc123def", {})).not.toContain("abc123def");
  });
});
