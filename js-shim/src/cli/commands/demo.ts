/**
 * `convex-migrate demo` (`npm run demo` in the repository): the whole
 * workflow, run by the real CLI commands against an in-memory deployment of
 * a copy of `example/` (the package ships it; the copy goes under the
 * package's `.demo/`): seed data, create a migration, apply it with live
 * progress, read the status and its release record, get blocked by drift,
 * roll back, and fix and resume a failing migration.
 */
import fs from "node:fs";
import path from "node:path";
import { CliError, EXIT, type ExitCode } from "../errors.js";
import { colorsFor, type Io } from "../io.js";
import { count, duration, table } from "../output.js";
import { copyExampleProject, InProcessDeployment, REPO_ROOT } from "../transport/inProcess.js";
import type { StatusReport } from "../types.js";
import { bridgeChapter } from "./demoBridge.js";
import { demoCommands, type CliRunner, type Step } from "./demoStep.js";

/** How many todos the demo migrates by default (tens of thousands, as in a real app; `--todos` changes it). */
export const DEMO_TODOS = 20_000;
/** The one todo whose empty text trips the demo's buggy migration (the last one, in a smaller demo). */
const EMPTY_TODO = 12_345;

/**
 * The copy's function builder. The example's builder runs a trigger (one
 * query) per write; convex-test scans the whole database for every query, so
 * at 20,000 documents that would be quadratic. The demo uses the plain one.
 */
const PLAIN_FUNCTIONS = `/** The demo's builder: the example's, without the write-counting trigger. */
import { internalMutation as rawInternalMutation } from "./_generated/server";

export const internalMutation = rawInternalMutation;
`;

const CONFIG = { pollIntervalMs: 200, timeout: "5m" };

/** The whole workflow, driven through `run` (the CLI's own `runCli`). */
export async function demo(io: Io, options: { todos?: number }, run: CliRunner): Promise<ExitCode> {
  const todos = options.todos ?? DEMO_TODOS;
  const emptyTodo = Math.min(EMPTY_TODO, todos - 1);
  const started = Date.now();
  const c = colorsFor(io.stdout, io.env);
  const say = (text = "") => io.stdout.write(`${text}\n`);
  let section = 0;
  const chapter = (title: string, why: string) => {
    section += 1;
    say(`\n${c.bold(c.cyan(`── ${section}. ${title} `))}${c.cyan("─".repeat(Math.max(2, 60 - title.length)))}`);
    say(c.dim(why));
  };

  say(c.bold("convex-migrate demo"));
  say(c.dim("The real CLI commands against an in-memory Convex deployment (convex-test) of a copy of example/."));

  if (!fs.existsSync(path.join(REPO_ROOT, "example", "convex"))) {
    throw new CliError(
      `The demo's example app (example/convex) is missing from ${REPO_ROOT}.`,
      EXIT.FAILED,
      "Reinstall the package (npm install convex-migrate), or run it from a clone: npm ci && npm run demo.",
    );
  }
  const project = copyExampleProject(path.join(REPO_ROOT, ".demo", "project"));
  fs.writeFileSync(path.join(project, "convex", "functions.ts"), PLAIN_FUNCTIONS);
  fs.writeFileSync(path.join(project, "convex-migrate.json"), `${JSON.stringify(CONFIG, null, 2)}\n`);
  const deployment = await InProcessDeployment.create(project);
  const cliIo: Io = { ...io, cwd: project, transport: deployment };
  const rel = (p: string) => path.relative(io.cwd, p);
  say(c.dim(`Project: ${rel(project)} (convex-migrate.json: ${JSON.stringify(CONFIG)})`));

  const steps: Step[] = [];
  const cli = demoCommands(cliIo, { c, say, steps, run });
  const deploy = async (what: string) => {
    await deployment.deploy([]);
    say(c.dim(`(deployed: ${what})`));
  };
  const migrationsDir = path.join(project, "convex", "migrations");
  const newest = () => fs.readdirSync(migrationsDir).filter((f) => /^\d{8}_\d{6}_/.test(f)).sort().at(-1) ?? "";

  chapter("An app with data", `Seed ${count(todos)} todos, users, notes and sessions.`);
  const t0 = Date.now();
  await deployment.inDatabase(async (ctx) => {
    const priorities = ["High", "low", " medium", "urgent", undefined, "LOW", "medium"];
    for (let i = 0; i < todos; i++) {
      const priority = priorities[i % priorities.length];
      const text = i === emptyTodo ? "" : `todo ${i}`;
      await ctx.db.insert("todos", { text, ...(priority !== undefined ? { priority } : {}) });
    }
    for (let i = 0; i < 1_000; i++) await ctx.db.insert("users", { name: `user ${i}`, email: `u${i}@example.com` });
    for (let i = 0; i < 200; i++) await ctx.db.insert("notes", { body: `note ${i}` });
    for (let i = 0; i < 500; i++) await ctx.db.insert("sessions", { token: `t${i}`, expiresAt: started + i });
  });
  say(`Seeded ${count(todos + 1_700)} documents in ${duration(Date.now() - t0)}.`);

  chapter("What is pending", "`status --exit-code` exits 4 while migrations are pending: a CI gate.");
  await cli(["status", "--exit-code"], EXIT.PENDING);

  chapter("Write a migration", "`create` names it by UTC time and rewrites the manifest.");
  await cli(["create", "init_todo_counter"], EXIT.OK);
  const counterFile = path.join(migrationsDir, newest());
  const counterId = path.basename(counterFile, ".ts");
  say(c.dim(`\n${rel(counterFile)} as created (it does not compile until the table is named):`));
  say(c.dim(indent(fs.readFileSync(counterFile, "utf8"))));
  const counterSource = (initial: number) =>
    migrationSource(counterId, "init todo counter", {
      table: "todos",
      up: `(_ctx, doc) => (doc.counter === undefined ? { counter: ${initial} } : undefined)`,
      down: `(_ctx, doc) => (doc.counter === undefined ? undefined : { counter: undefined })`,
    });
  fs.writeFileSync(counterFile, counterSource(0));
  say(`Filled in: ${c.bold('table "todos"')}, up sets ${c.bold("counter: 0")}, down removes it.`);
  await deploy("the new migration");

  chapter(
    "Would the narrowed schema deploy?",
    "`plan` lists what needs data work; `check` scans every table read-only and exits 1 while documents would be rejected.",
  );
  await cli(["plan", "--schema", "convex/schema.narrowed.ts"], EXIT.OK);
  await cli(["check", "--schema", "convex/schema.narrowed.ts", "--page-size", "2000"], EXIT.FAILED);

  chapter(
    "Migrate",
    "`up` applies every pending migration in id order, one batch per transaction, with live progress: a bar per " +
      "migration and for the run, percent and time left, placed by where each walk stands in _creationTime (no count).",
  );
  await cli(["up", "--env", "demo", "--commit", "3f2a9c1e8b7d", "--tag", "v1.4.0"], EXIT.OK);
  say("After the migrations, the narrowed schema fits every document:");
  await cli(["check", "--schema", "convex/schema.narrowed.ts", "--page-size", "2000"], EXIT.OK);

  chapter("Status and the release record", "Each run records environment, commit, tag, who, times and counts.");
  await cli(["status"], EXIT.OK);

  chapter("Drift", "Editing a migration that already ran changes its checksum; runs stop until it is resolved.");
  fs.writeFileSync(counterFile, counterSource(1));
  say(`Edited ${rel(counterFile)}: ${c.bold("counter: 0")} → ${c.bold("counter: 1")}`);
  await deploy("the edited migration");
  await cli(["up"], EXIT.DRIFT);
  fs.writeFileSync(counterFile, counterSource(0));
  say(`Restored ${rel(counterFile)}.`);
  await deploy("the original again");

  chapter("Roll back", "`down --steps 1` runs the newest applied migration's down step.");
  await cli(["down", "--steps", "1", "--env", "demo"], EXIT.OK);

  chapter("A failing migration, fixed and resumed", "A batch that throws rolls back alone; `up` resumes from the last committed batch.");
  await cli(["create", "capitalize_todo_text"], EXIT.OK);
  const capFile = path.join(migrationsDir, newest());
  const capId = path.basename(capFile, ".ts");
  const capSource = (fixed: boolean) =>
    migrationSource(capId, "capitalize todo text", {
      table: "todos",
      up: fixed
        ? `(_ctx, doc) => (doc.text === "" ? undefined : { text: doc.text[0]!.toUpperCase() + doc.text.slice(1) })`
        : `(_ctx, doc) => ({ text: doc.text[0]!.toUpperCase() + doc.text.slice(1) })`,
    });
  fs.writeFileSync(capFile, capSource(false));
  say(`Filled in with a bug: ${c.bold("doc.text[0].toUpperCase()")} throws on the one todo with empty text.`);
  await deploy("the buggy migration");
  await cli(["up", "--env", "demo"], EXIT.FAILED);
  const capitalized = await deployment.inDatabase(
    async (ctx) => (await ctx.db.query("todos").collect()).filter((t) => /^T/.test(String(t.text))).length,
  );
  say(
    `${count(capitalized)} of ${count(todos)} todos were capitalized before the failure: those batches stayed ` +
      `committed, the failing batch rolled back whole.`,
  );
  fs.writeFileSync(capFile, capSource(true));
  say(`Fixed: empty texts are skipped. A failed migration's code may change: the run resumes with the new code.`);
  await deploy("the fix");
  await cli(["up", "--env", "demo"], EXIT.OK);
  await cli(["status", "--exit-code"], EXIT.OK);

  await bridgeChapter({ io, c, say, chapter, steps, run });

  const report = (await deployment.run("migrate:status", { limit: 50 }, "query")) as StatusReport;
  const docs = report.recentRuns.reduce((n, r) => n + r.items.reduce((m, i) => m + i.processed, 0), 0);
  chapter("Summary", "Every command above, its exit code and its time.");
  io.stdout.write(
    table(
      c,
      ["COMMAND", "EXIT", "TOOK"],
      steps.map((s) => [s.command, s.exitCode === 0 ? c.green("0") : c.yellow(String(s.exitCode)), duration(s.ms)]),
    ),
  );
  say(
    `\n${c.green("✔")} ${report.recentRuns.length} runs, ${count(docs)} documents processed, ` +
      `${report.migrations.filter((m) => m.state === "completed").length} migrations applied; ` +
      `demo finished in ${duration(Date.now() - started)}.`,
  );
  return EXIT.OK;
}

const indent = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

/** A finished migration file, as a developer would write it after `create`. */
function migrationSource(id: string, description: string, step: { table: string; up: string; down?: string }): string {
  const down = step.down ? `\n  down: {\n    table: "${step.table}",\n    migrateOne: ${step.down},\n  },` : "";
  return `/** ${description}. */
import { defineMigration } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";

export const migration = defineMigration<DataModel>({
  id: "${id}",
  description: "${description}",
  up: {
    table: "${step.table}",
    migrateOne: ${step.up},
  },${down}
});
`;
}
