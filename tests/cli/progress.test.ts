// @vitest-environment node
/**
 * What a person watching `up` sees of the estimate: a bar per migration on a
 * terminal, percent and time left in plain lines, the fields in --json.
 */
import { stripVTControlCharacters } from "node:util";
import pc from "picocolors";
import { afterEach, describe, expect, test } from "vitest";
import type { RunOutcome } from "../../js-shim/src/cli/commands/up";
import { itemLine, runHeadline } from "../../js-shim/src/cli/output";
import { Progress } from "../../js-shim/src/cli/progress";
import type { RunItemView, RunView, StatusReport } from "../../js-shim/src/cli/types";
import { removeProject, setup } from "./helpers";

const c = pc.createColors(false);
const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

type Estimate = NonNullable<RunView["estimate"]>;
const estimate = (fractionDone: number | null, etaMs: number | null, basis: Estimate["basis"] = "creationTime"): Estimate => ({
  fractionDone,
  etaMs,
  basis,
});

function item(id: string, status: RunItemView["status"], e?: Estimate): RunItemView {
  return {
    id,
    direction: "up",
    status,
    processed: 4_200,
    updated: 4_200,
    startedAt: 0,
    ...(status === "running"
      ? {
          progress: {
            processed: 4_200,
            updated: 4_200,
            batches: 7,
            ratePerSec: 1_000,
            batchSize: 800,
            elapsedMs: 4_200,
            workers: 1,
            estimate: e ?? estimate(null, null, "none"),
          },
        }
      : {}),
  };
}

function run(items: RunItemView[], e?: Estimate): RunView {
  return {
    runId: "r1",
    status: "running",
    direction: "up",
    startedAt: 0,
    driftAllowed: false,
    release: {},
    items,
    ...(e ? { estimate: e } : {}),
  } as RunView;
}

describe("plain lines", () => {
  test("a running migration shows its percent and time left", () => {
    const line = itemLine(c, item("m1", "running", estimate(0.42, 12_000)), 5_000);
    expect(line).toContain("42% · 4,200 docs");
    expect(line).toContain("12.0s left");
  });

  test("no percentage without an estimate, and never 100% before done", () => {
    expect(itemLine(c, item("m1", "running", estimate(null, null, "none")), 5_000)).not.toMatch(/%|left/);
    expect(itemLine(c, item("m1", "running", estimate(0.999, 10)), 5_000)).toContain("99% ·");
  });

  test("a versioned run shows its progress across its planned migrations", () => {
    const line = runHeadline(
      c,
      run([item("m0", "completed"), item("m1", "running", estimate(0.5, 1_000)), item("m2", "pending")], estimate(0.5, null)),
    );
    expect(line).toBe("run r1 running  50% · 1 of 3 migrations");
  });
});

describe("on a terminal", () => {
  test("each migration and the run get a bar drawn to their fraction", () => {
    let text = "";
    const tty = { isTTY: true, columns: 200, rows: 40, write: (s: string) => ((text += s), true) };
    const progress = new Progress(tty as never, c, () => 5_000);
    const view = run([item("m0", "completed"), item("m1", "running", estimate(0.5, 2_000)), item("m2", "pending")], estimate(0.5, null));
    progress.update(view);
    progress.finish(view);
    const lines = stripVTControlCharacters(text).split(/\r?\n/);
    const last = (id: string) => lines.filter((l) => l.includes(` ${id} `)).pop() ?? "";
    const bar = (l: string) => (l.match(/[█░]+/)?.[0] ?? "");
    expect(bar(last("m0"))).toBe("█".repeat(24));
    expect(bar(last("m1"))).toBe("█".repeat(12) + "░".repeat(12));
    expect(last("m1")).toContain("50% · 4,200 docs");
    expect(last("m1")).toContain("2.0s left");
    expect(bar(last("m2"))).toBe("");
    expect(bar(lines.filter((l) => l.includes("run r1")).pop() ?? "")).toBe("█".repeat(12) + "░".repeat(12));
  });
});

describe("--json", () => {
  test("status carries the running migration's estimate and the run's; up ends at exactly 1", async () => {
    const p = await setup("progress-json");
    projects.push(p.dir);
    await p.seedTodos(300);
    const started = await p.run("up", "--no-wait", "--batch-size", "10", "--json");
    expect(started.code).toBe(0);
    // The first batches run in the background; look until one has reported.
    let active: NonNullable<StatusReport["activeRun"]> | undefined;
    let running: RunItemView | undefined;
    for (let i = 0; i < 200 && running?.progress?.estimate?.basis !== "creationTime"; i++) {
      const status = JSON.parse((await p.run("status", "--json")).stdout) as StatusReport;
      active = status.activeRun!;
      running = active.items.find((x) => x.status === "running");
    }
    running = running!;
    active = active!;
    expect(running.progress?.estimate?.basis).toBe("creationTime");
    expect(running.progress!.estimate!.fractionDone!).toBeGreaterThan(0);
    expect(running.progress!.estimate!.fractionDone!).toBeLessThan(1);
    expect(active.estimate?.fractionDone).toBeLessThan(1);
    const finished = JSON.parse((await p.run("up", "--json")).stdout) as RunOutcome;
    expect(finished.run?.estimate).toEqual({ fractionDone: 1, etaMs: 0, basis: "done" });
  });
});
