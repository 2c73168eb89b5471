/**
 * The demo's `deploy --bridge` chapter: a narrowing commit and its
 * migrations rolled forward with one command, on an in-memory deployment
 * that judges each push as Convex does (every stored document checked
 * against the pushed schema, a violation refuses the push).
 *
 * The deployed release is the example app with its widened schema and no
 * migrations; the next commit is `schema.narrowed.ts` as `schema.ts` (a
 * required field, an enum narrowing, a rename and a removed table) with the
 * example's migrations.
 */
import fs from "node:fs";
import path from "node:path";
import { CliError, EXIT } from "../errors.js";
import type { Colors, Io } from "../io.js";
import { count } from "../output.js";
import { copyExampleProject, InProcessDeployment, REPO_ROOT } from "../transport/inProcess.js";
import { demoCommands, type CliRunner, type Step } from "./demoStep.js";

/** The manifest of the release before the migrations. */
const EMPTY_MANIFEST = `// The deployed release: no migrations yet.
import { defineMigrationSet } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const manifest = defineMigrationSet<DataModel>([]);
`;

/** Documents of the deployed release, in the shapes the next commit narrows. */
export const BRIDGE_DEMO_DATA = { todos: 600, users: 120, sessions: 80, notes: 40 };

/**
 * A copy of the example app as the deployed release: its widened schema and
 * an empty manifest. Returns the project folder.
 */
export function bridgeReleaseProject(dest: string): string {
  const project = copyExampleProject(dest);
  const migrations = path.join(project, "convex", "migrations");
  for (const file of fs.readdirSync(migrations)) fs.rmSync(path.join(migrations, file));
  fs.writeFileSync(path.join(migrations, "manifest.ts"), EMPTY_MANIFEST);
  return project;
}

/** Check out the next commit: the narrowed schema as `schema.ts`, and the example's migrations. */
export function checkOutNarrowingCommit(project: string): string {
  const example = path.join(REPO_ROOT, "example", "convex");
  fs.cpSync(path.join(example, "migrations"), path.join(project, "convex", "migrations"), { recursive: true });
  const source = fs.readFileSync(path.join(example, "schema.narrowed.ts"), "utf8");
  fs.writeFileSync(path.join(project, "convex", "schema.ts"), source);
  return source;
}

/** Seed the deployed release's data, some of it in every shape the next commit narrows. */
export async function seedBridgeRelease(deployment: InProcessDeployment, n = BRIDGE_DEMO_DATA): Promise<void> {
  const priorities = ["High", "low", " medium", "urgent", undefined, "medium"];
  await deployment.inDatabase(async (ctx) => {
    for (let i = 0; i < n.todos; i++) {
      const priority = priorities[i % priorities.length];
      await ctx.db.insert("todos", {
        text: `todo ${i}`,
        ...(i % 3 === 0 ? { done: true } : {}),
        ...(priority !== undefined ? { priority } : {}),
      });
    }
    for (let i = 0; i < n.users; i++) await ctx.db.insert("users", { name: `user ${i}` });
    for (let i = 0; i < n.sessions; i++) await ctx.db.insert("sessions", { token: `t${i}`, expiresAt: i });
    for (let i = 0; i < n.notes; i++) await ctx.db.insert("notes", { body: `note ${i}` });
  });
}

export type DemoHelpers = {
  io: Io;
  c: Colors;
  say: (text?: string) => void;
  chapter: (title: string, why: string) => void;
  /** Every command the demo ran, for its summary. */
  steps: Step[];
  /** The CLI the demo drives. */
  run: CliRunner;
};

/** The chapter itself; throws when a command exits otherwise than the demo expects. */
export async function bridgeChapter({ io, c, say, chapter, steps, run }: DemoHelpers): Promise<void> {
  chapter(
    "Roll a narrowing change forward in one pipeline",
    "`deploy --bridge`: push the new code on a bridge schema, migrate, check, push the narrowed schema. No intermediate commit.",
  );
  const project = bridgeReleaseProject(path.join(REPO_ROOT, ".demo", "bridge-project"));
  const deployment = await InProcessDeployment.create(project, { validatePushes: true });
  await seedBridgeRelease(deployment);
  const total = Object.values(BRIDGE_DEMO_DATA).reduce((a, b) => a + b, 0);
  say(`A second in-memory deployment runs the release before the migrations, with ${count(total)} documents.`);
  say(
    c.dim(
      "Each push here is judged as Convex judges one: every stored document is checked against the pushed schema " +
        "with the engine's checker, and one violation refuses the push. A real deployment runs `npx convex deploy` at those points.",
    ),
  );
  const target = checkOutNarrowingCommit(project);
  say(
    `The next commit: ${c.bold("schema.narrowed.ts")} as convex/schema.ts (todos.done required, todos.priority ` +
      `low | medium | high, users.name renamed to fullName, sessions dropped) and the migrations that make the data fit.`,
  );

  const cliIo: Io = { ...io, cwd: project, transport: deployment };
  const cli = demoCommands(cliIo, { c, say, steps, run });

  say("\nA plain deploy pushes the narrowed schema first, and the deployment refuses it:");
  await cli(["deploy"], EXIT.FAILED);
  say("So the bridge: first the whole plan, changing nothing.");
  await cli(["deploy", "--bridge", "--dry-run"], EXIT.OK);
  await cli(["deploy", "--bridge", "--env", "demo", "--tag", "v2.0.0"], EXIT.OK);

  const unchanged = fs.readFileSync(path.join(project, "convex", "schema.ts"), "utf8") === target;
  if (!unchanged) throw new CliError("deploy --bridge left convex/schema.ts modified.", EXIT.FAILED);
  say(`convex/schema.ts is byte for byte the commit's: the bridge module was there only during the first push.`);
  await cli(["status", "--exit-code"], EXIT.OK);
}
