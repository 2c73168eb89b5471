/**
 * Output for people: tables, colours, numbers and durations. Commands build
 * strings with these and write them; `--json` output bypasses this file.
 */
import { stripVTControlCharacters } from "node:util";
import type { Colors } from "./io.js";
import type { DriftFinding, MigrationRow, RunItemView, RunView } from "./types.js";

const width = (text: string) => stripVTControlCharacters(text).length;
const pad = (text: string, n: number) => text + " ".repeat(Math.max(0, n - width(text)));

/** A left-aligned table with a dim header row; cells may hold colour codes. */
export function table(c: Colors, header: string[], rows: string[][], indent = "  "): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : pad(cell, widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header.map((h) => c.dim(h))), ...rows.map(line)].join("\n") + "\n";
}

export const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** 850ms, 4.2s, 3m 05s, 1h 02m. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3_600)}h ${String(Math.floor((s % 3_600) / 60)).padStart(2, "0")}m`;
}

/** 2026-11-22 10:15:00 UTC */
export const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

export function heading(c: Colors, text: string): string {
  return `\n${c.bold(text)}\n`;
}

const STATE_COLOURS: Record<string, keyof Colors> = {
  completed: "green",
  succeeded: "green",
  running: "cyan",
  pending: "yellow",
  failed: "red",
  canceled: "magenta",
  rolled_back: "blue",
  removed: "dim",
};

export function state(c: Colors, name: string): string {
  const colour = STATE_COLOURS[name];
  return colour ? (c[colour] as (s: string) => string)(name) : name;
}

const arrow = (direction: string) => (direction === "down" ? "down" : "up");

/** The width that aligns a run's item lines. */
export const idWidthOf = (items: { id: string }[]) => Math.max(0, ...items.map((i) => i.id.length));

type Estimate = NonNullable<RunView["estimate"]>;

/** `42%`, or nothing when there is no estimate; 100% only when done. */
export function percent(estimate: Estimate | undefined): string | undefined {
  const f = estimate?.fractionDone;
  return f === null || f === undefined ? undefined : `${Math.floor(f * 100)}%`;
}

/** `12s left`, or nothing when the time left is unknown or nothing runs. */
export function timeLeft(estimate: Estimate | undefined): string | undefined {
  const eta = estimate?.etaMs;
  return eta === null || eta === undefined || estimate?.basis === "done" ? undefined : `${duration(eta)} left`;
}

/**
 * One line of a run's item: what it did so far, or where it stands. `bar`
 * draws the item's fraction done (a terminal passes one; plain logs do not).
 */
export function itemLine(
  c: Colors,
  item: RunItemView,
  nowMs: number,
  idWidth = 0,
  bar?: (fraction: number) => string,
): string {
  const mark =
    item.status === "completed"
      ? c.green("✔")
      : item.status === "running"
        ? c.cyan("▸")
        : item.status === "failed"
          ? c.red("✖")
          : item.status === "canceled"
            ? c.magenta("■")
            : c.dim("·");
  const head = `${mark} ${item.id.padEnd(idWidth)} ${c.dim(arrow(item.direction).padEnd(4))}`;
  if (item.status === "pending") return `${head}  ${c.dim("waiting")}`;
  const p = item.progress;
  const elapsed = p?.elapsedMs ?? item.executionMs ?? (item.startedAt !== undefined ? nowMs - item.startedAt : 0);
  if (item.status !== "running" && item.status !== "completed" && item.processed === 0) {
    // The run records counts when a migration completes; a stopped one shows where it stopped.
    const line = `${head}  ${item.status} after ${duration(elapsed)}`;
    return item.error ? `${line}\n    ${c.red(item.error)}` : line;
  }
  const rate = p?.ratePerSec ?? (elapsed > 0 ? (item.processed * 1_000) / elapsed : 0);
  const pct = percent(p?.estimate);
  const left = timeLeft(p?.estimate);
  const facts = [
    ...(pct ? [pct] : []),
    `${count(item.processed)} docs`,
    `${count(item.updated)} updated`,
    `${count(rate)}/s`,
    ...(p ? [`batch ${count(p.batchSize)}`] : []),
    ...(p && p.workers > 1 ? [`${p.workers} workers`] : []),
    ...(left ? [left] : []),
    duration(elapsed),
  ];
  const fraction = item.status === "completed" ? 1 : p?.estimate?.fractionDone;
  const drawn = bar && fraction !== null && fraction !== undefined ? `${bar(fraction)}  ` : "";
  const line = `${head}  ${drawn}${facts.join(c.dim(" · "))}`;
  if (item.status === "failed" && item.error) return `${line}\n    ${c.red(item.error)}`;
  return line;
}

/** The run in one line; while it runs, its progress across its migrations. */
export function runHeadline(c: Colors, run: RunView, bar?: (fraction: number) => string): string {
  const verb = run.kind === "repair" ? "repair" : run.direction === "down" ? "rollback" : "run";
  const line = `${verb} ${run.runId} ${state(c, run.status)}`;
  if (run.status !== "running") return line;
  const done = run.items.filter((i) => i.status === "completed").length;
  const fraction = run.estimate?.fractionDone;
  const drawn = bar && fraction !== null && fraction !== undefined ? `${bar(fraction)}  ` : "";
  const facts = [percent(run.estimate), `${done} of ${run.items.length} migrations`, timeLeft(run.estimate)].filter(
    (f): f is string => f !== undefined,
  );
  return `${line}  ${drawn}${facts.join(c.dim(" · "))}`;
}

/** The release record of a run in one line: environment, commit, tag, who, link, the convex-migrate that ran it. */
export function releaseLine(c: Colors, run: RunView): string {
  const r = run.release;
  const parts = [
    r.environment && `env ${c.bold(r.environment)}`,
    r.commit && `commit ${r.commit.slice(0, 12)}`,
    r.tag && `tag ${r.tag}`,
    r.initiatedBy && `by ${r.initiatedBy}`,
    r.deploy && `deploy --bridge ${r.deploy.outcome.replaceAll("_", " ")} (${r.deploy.pushes.filter((p) => p.ok).length} of 2 pushes)`,
    r.url,
    r.convexMigrateVersion && c.dim(`convex-migrate ${r.convexMigrateVersion}`),
  ].filter(Boolean);
  return parts.length ? parts.join(c.dim(" · ")) : c.dim("no release metadata");
}

export function migrationsTable(c: Colors, rows: MigrationRow[]): string {
  if (rows.length === 0) return "  No versioned migrations in the manifest.\n";
  return table(
    c,
    ["MIGRATION", "STATE", "CHECKSUM", "APPLIED", "DESCRIPTION"],
    rows.map((m) => [
      m.inManifest ? m.id : m.state === "removed" ? m.id : `${m.id} ${c.red("(not in manifest)")}`,
      state(c, m.state),
      checksumCell(c, m),
      m.state === "rolled_back" && m.rolledBackAt !== undefined
        ? c.dim(`rolled back ${time(m.rolledBackAt)}`)
        : m.appliedAt !== undefined
          ? time(m.appliedAt)
          : c.dim("-"),
      m.description,
    ]),
  );
}

/** The stored checksum's form and whether the shipped code still has it: `v2 unchanged`, `v1 edited`. */
function checksumCell(c: Colors, m: MigrationRow): string {
  if (m.storedForm === undefined) return c.dim("-");
  const form = `v${m.storedForm}`;
  if (m.codeUnchanged === undefined) return form;
  return m.codeUnchanged ? `${form} unchanged` : `${form} ${c.red("edited")}`;
}

/** What each repair run accepted, with the old and new checksums and their forms. */
export function repairLines(c: Colors, runs: RunView[]): string {
  return runs
    .flatMap((r) =>
      (r.repaired ?? []).map((x) =>
        x.newChecksum !== undefined
          ? `  ${r.runId} ${time(r.startedAt)}  ${x.id}: edit accepted (${x.oldChecksum} v${x.oldForm} → ${x.newChecksum} v${x.newForm})  ${releaseLine(c, r)}\n`
          : `  ${r.runId} ${time(r.startedAt)}  ${x.id}: removal recorded (was ${x.oldChecksum} v${x.oldForm})  ${releaseLine(c, r)}\n`,
      ),
    )
    .join("");
}

export function runsTable(c: Colors, runs: RunView[]): string {
  return table(
    c,
    ["RUN", "DIRECTION", "STATUS", "STARTED", "TOOK", "DOCS", "RELEASE"],
    runs.map((r) => [
      r.runId,
      r.kind === "repair" ? "repair" : r.direction,
      state(c, r.status),
      time(r.startedAt),
      r.endedAt !== undefined ? duration(r.endedAt - r.startedAt) : c.dim("running"),
      count(r.items.reduce((n, i) => n + i.processed, 0)),
      releaseLine(c, r),
    ]),
  );
}

export function driftLines(c: Colors, drift: DriftFinding[]): string {
  return drift
    .map((d) => `  ${d.blocking ? c.red("✖") : c.yellow("!")} ${c.bold(d.kind)} ${d.message}\n`)
    .join("");
}
