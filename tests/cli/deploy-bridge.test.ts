// @vitest-environment node
/**
 * `deploy --bridge` against a stand-in `npx` first on PATH. The stand-in
 * records each call, and for `convex deploy` the schema file's content at
 * that moment, so the tests see what each push would have pushed: the
 * bridge first, the target second, and the user's file restored after.
 * Each failure point exits with its code and leaves the deployment on a
 * schema that accepts its data; the deploy key is never printed.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import type { BridgeOutcome } from "../../js-shim/src/cli/commands/deployBridge";
import { checkPage } from "../../js-shim/src/fullEngine";
import { exportSchema } from "../../js-shim/src/client/preflight";
import { REPO_ROOT } from "../../js-shim/src/cli/transport/inProcess";
import { cli, loggedCalls } from "./helpers";

const SECRET = "c2VjcmV0LWJyaWRnZS1rZXk";
const DEPLOY_KEY = `prod:happy-otter-123|${SECRET}`;

// Inside the repository, so the project's `convex/schema.ts` resolves `convex/server`.
const root = path.join(REPO_ROOT, ".demo", `deploy-bridge-${process.pid}`);
const bin = path.join(root, "bin");
const project = path.join(root, "project");
const log = path.join(root, "calls.jsonl");
const replies = path.join(root, "replies.json");
const schemaFile = path.join(project, "convex", "schema.ts");
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(bin, { recursive: true });
// The repository's package.json makes scripts ES modules; the stand-in is CommonJS.
fs.writeFileSync(path.join(bin, "package.json"), '{"type": "commonjs"}\n');
fs.mkdirSync(path.join(project, "convex", "migrations"), { recursive: true });
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// The local (target) schema: a required field, an enum narrowed, a field
// renamed, a table removed — against the deployed schema below.
const TARGET_SOURCE = `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  todos: defineTable({
    title: v.string(),
    done: v.boolean(),
    priority: v.union(v.literal("low"), v.literal("high")),
  }).index("by_done", ["done"]),
});
`;
const DEPLOYED = exportSchema(
  defineSchema({
    todos: defineTable({
      text: v.string(),
      done: v.optional(v.boolean()),
      priority: v.optional(v.union(v.literal("low"), v.literal("medium"), v.literal("high"))),
    }),
    legacy: defineTable({ note: v.string() }),
  }),
);
const MIGRATIONS = [
  "20261201_100000_backfill_done",
  "20261201_100100_narrow_priority",
  "20261201_100200_rename_text",
  "20261201_100300_delete_legacy",
];
for (const id of MIGRATIONS) fs.writeFileSync(path.join(project, "convex", "migrations", `${id}.ts`), "export {};\n");

// A stand-in for `npx convex ...`: records argv, CONVEX_* and, for deploys,
// the schema file; answers from replies.json (`deploys` is one reply per push).
fs.writeFileSync(
  path.join(bin, "npx"),
  `#!/usr/bin/env node
const fs = require("fs");
const argv = process.argv.slice(2);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("CONVEX_")));
const isDeploy = argv[1] === "deploy";
const prior = fs.existsSync(${JSON.stringify(log)})
  ? fs.readFileSync(${JSON.stringify(log)}, "utf8").split("\\n").filter((l) => l.includes('"deploy"')).length : 0;
const schema = isDeploy ? fs.readFileSync(${JSON.stringify(schemaFile)}, "utf8") : undefined;
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, env, schema }) + "\\n");
const replies = JSON.parse(fs.readFileSync(${JSON.stringify(replies)}, "utf8"));
const reply = isDeploy ? (replies.deploys || [])[prior] : replies[argv[2]];
if (!reply) { process.stderr.write("no reply for " + argv.join(" ") + "\\n"); process.exit(9); }
const finish = () => {
  if (reply.stdout) process.stdout.write(reply.stdout.split("$KEY").join(process.env.CONVEX_DEPLOY_KEY));
  if (reply.stderr) process.stderr.write(reply.stderr.split("$KEY").join(process.env.CONVEX_DEPLOY_KEY));
  process.exit(reply.code || 0);
};
if (reply.hang) { fs.writeFileSync(reply.hang, "pushing"); setTimeout(finish, 10000); } else finish();
`,
  { mode: 0o755 },
);

type Reply = { stdout?: string; stderr?: string; code?: number; hang?: string };
type Replies = Record<string, Reply | Reply[]>;
const ok = (value: unknown): Reply => ({ stdout: `✔ Using deployment happy-otter-123\n${JSON.stringify(value)}\n` });
const pushed: Reply = { stdout: "✔ Deployed Convex functions to https://happy-otter-123.convex.cloud ($KEY)\n" };
const refused: Reply = { code: 1, stderr: "✖ Schema validation failed for key $KEY\n" };

const runView = (status: "succeeded" | "failed") => ({
  runId: "r1",
  status,
  direction: "up",
  startedAt: 1_700_000_000_000,
  endedAt: 1_700_000_004_000,
  driftAllowed: false,
  release: {},
  ...(status === "failed" ? { error: "boom" } : {}),
  items: MIGRATIONS.map((id, i) => ({
    id,
    direction: "up",
    status: status === "failed" && i === 1 ? "failed" : "completed",
    processed: 10,
    updated: 10,
    ...(status === "failed" && i === 1 ? { error: "priority urgent is not handled" } : {}),
  })),
});
const statusReport = (run?: ReturnType<typeof runView>) => ({
  activeRun: null,
  recentRuns: run ? [run] : [],
  migrations: [],
  pending: [],
  drift: [],
});
const started = {
  status: "running",
  runId: "r1",
  plan: MIGRATIONS.map((id) => ({ id, direction: "up", table: "todos", resume: false })),
  drift: [],
};
const page = (violating: number) => ({
  scanned: 2,
  violating,
  samples: violating
    ? [
        {
          id: "k57todo",
          violations: [{ path: "priority", expected: '"low" | "high"', found: 'string "medium"' }],
          omitted: 0,
        },
      ]
    : [],
  notes: [],
  continueCursor: "",
  isDone: true,
});

function answer(overrides: Partial<Replies> = {}) {
  const base: Replies = {
    "migrate:deployedSchema": ok(DEPLOYED),
    "migrate:status": ok(statusReport(runView("succeeded"))),
    "migrate:start": ok(started),
    "migrate:checkSchema": ok(page(0)),
    "migrate:recordDeploy": ok(null),
    deploys: [pushed, pushed],
  };
  fs.writeFileSync(replies, JSON.stringify({ ...base, ...overrides }));
}

type Call = { argv: string[]; env: Record<string, string>; schema?: string };
const calls = () => loggedCalls<Call>(log);
const deploys = () => calls().filter((c) => c.argv[1] === "deploy");
const ran = (fn: string) => calls().some((c) => c.argv[1] === "run" && c.argv[2] === fn);

const env = () => ({ PATH: `${bin}${path.delimiter}${process.env.PATH}`, CONVEX_DEPLOY_KEY: DEPLOY_KEY });
const bridge = (...args: string[]) => cli(["deploy", "--bridge", "--prod", ...args], { cwd: project, env: env() });

beforeEach(() => {
  fs.rmSync(log, { force: true });
  fs.writeFileSync(schemaFile, TARGET_SOURCE);
  fs.writeFileSync(path.join(project, "convex-migrate.json"), JSON.stringify({ pollIntervalMs: 5 }));
});

function expectTreeUnchanged() {
  expect(fs.readFileSync(schemaFile, "utf8")).toBe(TARGET_SOURCE);
  expect(fs.readdirSync(path.join(project, "convex")).sort()).toEqual(["migrations", "schema.ts"]);
}

function expectNoKey(r: { stdout: string; stderr: string }) {
  expect(r.stdout + r.stderr).not.toContain(SECRET);
}

describe("deploy --bridge", () => {
  test("pushes the bridge, migrates, checks, pushes the target; the tree is unchanged", async () => {
    answer();
    const r = await bridge("--", "--cmd", "npm run build", "--typecheck", "enable");
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [first, second] = deploys();
    expect(deploys()).toHaveLength(2);
    // Push 1: the bridge module, type-checking off for it only, the user's flags kept.
    expect(first?.argv).toEqual(["convex", "deploy", "--cmd", "npm run build", "--typecheck", "disable"]);
    expect(first?.schema).toContain("deploy --bridge");
    expect(first?.schema).toContain('"text": v.optional(v.string())');
    expect(first?.schema).toContain('"title": v.optional(v.string())');
    expect(first?.schema).toContain('v.literal("medium")');
    expect(first?.schema).toContain('"legacy": defineTable(v.any())');
    expect(first?.schema).toContain('.index("by_done", ["done"])');
    // What push 1 pushed accepts documents in the deployed shape and in the target's.
    const pushedFile = path.join(root, "pushed-bridge.ts");
    fs.writeFileSync(pushedFile, first?.schema ?? "");
    const pushedSchema = (
      (await import(/* @vite-ignore */ pathToFileURL(pushedFile).href)) as { default: { export(): string } }
    ).default;
    const documents = [
      { _id: "a", text: "old", priority: "medium" },
      { _id: "b", title: "new", done: true, priority: "high" },
    ];
    const accepted = checkPage({ schema: pushedSchema.export(), table: "todos", documents, maxSamples: 2, ids: [] });
    expect(accepted.violating).toBe(0);
    expect(
      checkPage({ schema: pushedSchema.export(), table: "legacy", documents: [{ _id: "l", note: "x" }], maxSamples: 1, ids: [] })
        .violating,
    ).toBe(0);
    // Push 2: the user's own schema file and flags.
    expect(second?.argv).toEqual(["convex", "deploy", "--cmd", "npm run build", "--typecheck", "enable"]);
    expect(second?.schema).toBe(TARGET_SOURCE);
    // Between them: up --strict, then the preflight check of every target table.
    const order = calls().map((c) => (c.argv[1] === "deploy" ? "deploy" : c.argv[2]));
    expect(order.indexOf("migrate:start")).toBeGreaterThan(order.indexOf("deploy"));
    expect(order.indexOf("migrate:checkSchema")).toBeGreaterThan(order.indexOf("migrate:start"));
    expect(order.lastIndexOf("deploy")).toBeGreaterThan(order.indexOf("migrate:checkSchema"));
    const start = calls().find((c) => c.argv[2] === "migrate:start");
    expect(JSON.parse(start?.argv[3] ?? "{}")).toMatchObject({ direction: "up", strict: true });
    expect(r.stdout).toContain("Type-checking is off for this push only");
    expect(r.stdout).toContain("Deployed convex/schema.ts with every migration applied");
    // One release record: the run's, completed with both pushes and the check.
    const recorded = calls().find((c) => c.argv[2] === "migrate:recordDeploy");
    expect(JSON.parse(recorded?.argv[3] ?? "{}")).toEqual({
      runId: "r1",
      deploy: {
        pipeline: "bridge",
        outcome: "deployed",
        pushes: [
          { schema: "bridge", ok: true },
          { schema: "target", ok: true },
        ],
        check: { scanned: 2, rejected: 0 },
      },
    });
    for (const c of calls()) expect(c.env.CONVEX_DEPLOY_KEY).toBe(DEPLOY_KEY);
    expectNoKey(r);
    expectTreeUnchanged();
  });

  test("--json prints one document with both pushes, the run and the check", async () => {
    answer();
    const r = await bridge("--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as BridgeOutcome;
    expect(doc).toMatchObject({ command: "deploy", mode: "bridge", status: "deployed", exitCode: 0 });
    expect(doc.pushes.map((p) => [p.schema, p.ok])).toEqual([
      ["bridge", true],
      ["target", true],
    ]);
    expect(doc.run).toMatchObject({ status: "succeeded" });
    expect(doc.check).toMatchObject({ rejected: 0 });
    expect(doc.migrations).toEqual(MIGRATIONS);
    expectNoKey(r);
  });

  test("--dry-run prints the whole plan and changes nothing", async () => {
    answer();
    const r = await bridge("--dry-run");
    expect(r.code).toBe(0);
    expect(deploys()).toEqual([]);
    expect(ran("migrate:start")).toBe(false);
    expect(r.stdout).toContain("Deployed schema → bridge");
    expect(r.stdout).toContain("Bridge → convex/schema.ts");
    expect(r.stdout).toContain("priority");
    for (const id of MIGRATIONS) expect(r.stdout).toContain(id);
    expect(r.stdout).toContain("npx convex deploy --typecheck disable");
    expect(r.stdout).toContain("Dry run: nothing was pushed, migrated or changed.");
    expectTreeUnchanged();
  });

  test("first push fails: exit 1, nothing migrated, the deployment on its previous release", async () => {
    answer({ deploys: [refused] });
    const r = await bridge();
    expect(r.code).toBe(1);
    expect(deploys()).toHaveLength(1);
    expect(ran("migrate:start")).toBe(false);
    expect(r.stdout).toContain("still runs the previous release");
    expectNoKey(r);
    expectTreeUnchanged();
  });

  test("a migration fails: exit 1 before the check, the deployment on the bridge", async () => {
    answer({ "migrate:status": ok(statusReport(runView("failed"))) });
    const r = await bridge();
    expect(r.code).toBe(1);
    expect(deploys()).toHaveLength(1);
    expect(ran("migrate:checkSchema")).toBe(false);
    expect(r.stdout).toContain("priority urgent is not handled");
    expect(r.stdout).toContain("safe to stay there");
    expectTreeUnchanged();
  });

  test("drift blocks the run: exit 3 after the first push, the deployment on the bridge", async () => {
    const drift = [{ kind: "checksum_mismatch", id: MIGRATIONS[0], message: "edited after it ran", blocking: true }];
    answer({ "migrate:start": ok({ status: "drift_blocked", plan: [], drift }) });
    const r = await bridge();
    expect(r.code).toBe(3);
    expect(deploys()).toHaveLength(1);
    expect(ran("migrate:checkSchema")).toBe(false);
    expect(r.stdout).toContain("safe to stay there");
    expectTreeUnchanged();
  });

  test("check finds violating documents: exit 1 before the second push, naming them", async () => {
    answer({ "migrate:checkSchema": ok(page(1)) });
    const r = await bridge();
    expect(r.code).toBe(1);
    expect(deploys()).toHaveLength(1);
    expect(r.stdout).toContain("k57todo");
    expect(r.stdout).toContain('priority: expected "low" | "high", found string "medium"');
    expect(r.stdout).toContain("Not pushing convex/schema.ts");
    const recorded = calls().find((c) => c.argv[2] === "migrate:recordDeploy");
    expect(JSON.parse(recorded?.argv[3] ?? "{}").deploy).toMatchObject({
      outcome: "check_failed",
      check: { rejected: 1 },
    });
    expectTreeUnchanged();
  });

  test("an app without recordDeploy still deploys, with a warning about the release record", async () => {
    answer({
      "migrate:recordDeploy": { code: 1, stderr: "✖ Could not find public function for 'migrate:recordDeploy'\n" },
    });
    const r = await bridge();
    expect(r.code).toBe(0);
    expect(deploys()).toHaveLength(2);
    expect(r.stdout).toContain("does not list the pushes and the check");
    expect(r.stdout).toContain("Export recordDeploy");
  });

  test("second push fails: exit 1, the deployment on the bridge with every migration applied", async () => {
    answer({ deploys: [pushed, refused] });
    const r = await bridge();
    expect(r.code).toBe(1);
    expect(deploys()).toHaveLength(2);
    expect(r.stdout).toContain("stays on the bridge schema with every migration applied");
    expectNoKey(r);
    expectTreeUnchanged();
  });

  test("no change needs data work: one plain push, type-checked, then up", async () => {
    answer({
      "migrate:deployedSchema": ok(
        exportSchema(
          defineSchema({
            todos: defineTable({
              title: v.string(),
              done: v.boolean(),
              priority: v.union(v.literal("low"), v.literal("high")),
            }).index("by_done", ["done"]),
          }),
        ),
      ),
    });
    const r = await bridge("--", "-y");
    expect(r.code).toBe(0);
    expect(deploys().map((d) => d.argv)).toEqual([["convex", "deploy", "-y"]]);
    expect(deploys()[0]?.schema).toBe(TARGET_SOURCE);
    expect(r.stdout).toContain("no bridge is needed");
  });

  test("a deployment without deployedSchema (new, or older code) gets a direct deploy, type-checked", async () => {
    answer({
      "migrate:deployedSchema": { code: 1, stderr: "✖ Could not find public function for 'migrate:deployedSchema'\n" },
    });
    const r = await bridge();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(deploys().map((d) => d.argv)).toEqual([["convex", "deploy"]]);
    expect(deploys()[0]?.schema).toBe(TARGET_SOURCE);
    expect(r.stdout).toContain("no deployed schema to bridge from");
    expectTreeUnchanged();
  });

  test("--dry-run --json prints one document, bridged or direct, and pushes nothing", async () => {
    answer();
    const bridged = await bridge("--dry-run", "--json");
    expect(bridged.code).toBe(0);
    expect(JSON.parse(bridged.stdout)).toMatchObject({
      mode: "bridge",
      status: "dry_run",
      pushes: [],
      migrations: MIGRATIONS,
    });
    answer({
      "migrate:deployedSchema": { code: 1, stderr: "✖ Could not find public function for 'migrate:deployedSchema'\n" },
    });
    const direct = await bridge("--dry-run", "--json");
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout)).toEqual({ command: "deploy", mode: "direct", status: "dry_run", exitCode: 0 });
    expect(deploys()).toEqual([]);
  });

  test("a schema file that is not there is a usage error (exit 2)", async () => {
    answer();
    const r = await bridge("--schema", "convex/nope.ts");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("No schema file at convex/nope.ts");
    expect(deploys()).toEqual([]);
  });

  test("a bridge module left by a killed run is refused as the target (exit 2), naming the fix", async () => {
    answer();
    const leftover = `// Bridge schema written by \`convex-migrate deploy --bridge\` for one push; your schema file is restored after it.\n${TARGET_SOURCE}`;
    fs.writeFileSync(schemaFile, leftover);
    const r = await bridge();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("git checkout -- convex/schema.ts");
    expect(calls()).toEqual([]);
    expect(fs.readFileSync(schemaFile, "utf8")).toBe(leftover);
  });

  test("--no-wait with --bridge is a usage error", async () => {
    const r = await bridge("--no-wait");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Drop --no-wait");
  });

  test("--schema without --bridge is a usage error", async () => {
    const r = await cli(["deploy", "--schema", "convex/schema.ts"], { cwd: project, env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--schema is for deploy --bridge");
  });

  test.each(["SIGTERM", "SIGINT"] as const)("%s during the bridge push restores the schema file", async (signal) => {
    const marker = path.join(root, `pushing-${signal}`);
    fs.rmSync(marker, { force: true });
    answer({ deploys: [{ ...pushed, hang: marker }] });
    // One process (tsx as a loader, not as a wrapper), as `convex-migrate` runs in CI.
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(REPO_ROOT, "js-shim", "src", "cli", "main.ts"), "deploy", "--bridge"],
      { cwd: project, env: { ...process.env, ...env() }, stdio: "ignore" },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 400 && !fs.existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(marker)).toBe(true);
    expect(fs.readFileSync(schemaFile, "utf8")).toContain("deploy --bridge");
    child.kill(signal);
    const code = await exited;
    expect(code).toBe(signal === "SIGTERM" ? 143 : 130);
    expectTreeUnchanged();
  });
});
