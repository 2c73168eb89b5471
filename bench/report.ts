/**
 * Turns the benchmark's raw runs (bench/side-by-side.ts) and the Wasm
 * figures (bench/wasm-size.ts, and bench/cold-load.ts when the tree has it)
 * into one table for a person and one JSON file to keep
 * (bench/results/latest.json). Every timing is given as min / median / max
 * over the runs; every ratio is taken within a run (ours and the peer
 * measured back to back), then the median of those ratios is reported.
 * Counts (hops, transactions, batch sizes) are the same on every run; a
 * figure that was not measured is `null` with a note, never computed.
 *
 *     npx tsx bench/report.ts [--scenarios f.json] [--wasm f.json] [--cold-load f.json] [--out bench/results/latest.json]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Outcome } from "./scenarios";
import { describeWasm, type WasmFigures } from "./wasm-size";

type Measured = Outcome & { docs: number; seedMs: number; migratedOnce: boolean };
type Scenario = "fixed" | "defaults" | "defaultsScaled" | "large" | "workers";
type Run = Record<Scenario, Measured[]>;
type Raw = { runs: number; full: boolean; sizes: Record<Scenario, { docs: number; bodyBytes: number }>; results: Run[] };
type Tool = "ours" | "peer";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const raw = JSON.parse(readFileSync(arg("--scenarios", "bench/results/.scenarios.tmp.json"), "utf8")) as Raw;
const wasm = JSON.parse(readFileSync(arg("--wasm", "bench/results/.wasm.tmp.json"), "utf8")) as WasmFigures;
const coldLoadFile = arg("--cold-load", "bench/results/.cold-load.tmp.json");
const coldLoad = existsSync(coldLoadFile) ? (JSON.parse(readFileSync(coldLoadFile, "utf8")) as Record<string, unknown>) : undefined;
type ColdLoadRow = {
  module: string;
  rawBytes: number;
  gzipBytes: number;
  decoder: string;
  compileCached: boolean;
  perHop: { minMs: number; medianMs: number; maxMs: number };
};
const coldRows = ((coldLoad?.rows as ColdLoadRow[] | undefined) ?? []).filter((r) => r.module === "batch" && r.decoder === "buffer");
const batchRow = coldRows.find((r) => r.compileCached);
const batchAfresh = coldRows.find((r) => !r.compileCached);
const out = arg("--out", "bench/results/latest.json");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (x: number, places = 0) => Math.round(x * 10 ** places) / 10 ** places;
const spread = (values: number[]) => ({
  min: round(Math.min(...values)),
  median: round(median(values)),
  max: round(Math.max(...values)),
});

const pick = (run: Run, scenario: Scenario, tool: Tool) => run[scenario]?.find((m) => m.tool === tool);
const measured = (scenario: Scenario, tool: Tool) => raw.results.map((r) => pick(r, scenario, tool)).filter((m): m is Measured => m !== undefined);

/** One tool in one scenario over the runs, or a note saying it was not run. */
function summary(scenario: Scenario, tool: Tool, notRun = "not run") {
  const ms = measured(scenario, tool);
  if (ms.length === 0) return { measured: false as const, note: notRun };
  const last = ms[ms.length - 1]!;
  const rest = ms.map((m) => m.ms - m.paginationMs);
  return {
    measured: true as const,
    docs: last.docs,
    state: last.state,
    processed: last.processed,
    completedEveryRun: ms.every((m) => m.state === "success" && m.migratedOnce),
    ...(last.error ? { error: last.error } : {}),
    wallMs: { ...spread(ms.map((m) => m.ms)), perRun: ms.map((m) => round(m.ms)) },
    paginationMs: spread(ms.map((m) => m.paginationMs)),
    restMs: spread(rest),
    restMsPerBatch: spread(ms.map((m, i) => rest[i]! / Math.max(1, m.batchCalls.batch))),
    // Runs written before CPU time was taken have none.
    ...(ms.every((m) => m.cpuMs !== undefined) ? { restCpuMsPerBatch: spread(ms.map(restCpuPerBatch)) } : {}),
    batches: median(ms.map((m) => m.batchCalls.batch)),
    scheduledHops: median(ms.map((m) => m.scheduledHops)),
    transactions: median(ms.map((m) => m.transactions)),
    rolledBackBatches: last.rolledBackBatches ?? null,
    hopsPerChain: last.hopsPerChain,
    docsPerBatch: last.docsPerBatch,
    bindingShare: last.bindingShare ?? null,
    ...(last.finalBatchSize !== undefined ? { finalBatchSize: last.finalBatchSize } : {}),
    engineCalls: last.engineCalls ?? null,
  };
}

/** Median over runs of ours / peer for one figure, both taken from the same run. */
function ratio(scenario: Scenario, field: (m: Measured) => number): number | null {
  const ratios = raw.results.flatMap((r) => {
    const ours = pick(r, scenario, "ours");
    const peer = pick(r, scenario, "peer");
    return ours && peer && field(peer) > 0 ? [field(ours) / field(peer)] : [];
  });
  return ratios.length ? round(median(ratios), 3) : null;
}

const restPerBatch = (m: Measured) => (m.ms - m.paginationMs) / Math.max(1, m.batchCalls.batch);
/** The rest in CPU time: pagination on convex-test is CPU-bound, so CPU less pagination is the rest's CPU. */
const restCpuPerBatch = (m: Measured) => (m.cpuMs - m.paginationMs) / Math.max(1, m.batchCalls.batch);
const sideBySide = (scenario: Scenario, peerNote?: string) => ({
  ours: summary(scenario, "ours"),
  peer: summary(scenario, "peer", peerNote),
  ratios: {
    scheduledHops: ratio(scenario, (m) => m.scheduledHops),
    transactions: ratio(scenario, (m) => m.transactions),
    wallTime: ratio(scenario, (m) => m.ms),
    pagination: ratio(scenario, (m) => m.paginationMs),
    restPerBatch: ratio(scenario, restPerBatch),
    restCpuPerBatch: ratio(scenario, restCpuPerBatch),
  },
});

const PEER_100K_NOTE = "not measured on this run: BENCH_FULL=1 runs it (about 11 minutes per run on convex-test)";
const scenarios = {
  fixedBatch100: sideBySide("fixed"),
  defaults100k: sideBySide("defaults", PEER_100K_NOTE),
  defaults20k: sideBySide("defaultsScaled"),
  largeDocs: { ours: summary("large", "ours"), peer: summary("large", "peer") },
  workers100k: { workers: 4, ours: summary("workers", "ours"), peer: { measured: false as const, note: "the peer has no workers" } },
};

// Issue 16's goals, each from the figures above.
const one = scenarios.defaults100k.ours;
const four = scenarios.workers100k.ours;
const fixed = scenarios.fixedBatch100.ours;
const FLOOR_TRANSACTIONS = Math.ceil(raw.sizes.defaults.docs / 16_000);
const goals = {
  hops100k: {
    ours: one.measured ? one.scheduledHops : null,
    transactions: one.measured ? one.transactions : null,
    floorTransactions: FLOOR_TRANSACTIONS,
    rolledBackBatches: one.measured ? one.rolledBackBatches : null,
    goal: "at most 10 sequential hops",
    met: one.measured ? one.scheduledHops <= 10 : null,
  },
  docsPerTransaction100k: one.measured ? one.docsPerBatch : null,
  bindingLimitShare100k: one.measured ? one.bindingShare : null,
  hopsPerChainWithWorkers: four.measured
    ? {
        workers: 4,
        perChain: four.hopsPerChain,
        transactions: four.transactions,
        goalPerChain: one.measured ? Math.ceil(one.scheduledHops / 4) + 2 : null,
        goalTransactions: one.measured ? round(1.2 * one.scheduledHops, 1) : null,
      }
    : null,
  perBatchOverheadAtBatch100: {
    wallRatio: scenarios.fixedBatch100.ratios.restPerBatch,
    cpuRatio: scenarios.fixedBatch100.ratios.restCpuPerBatch,
    goal: "at or below the peer's (ratio ≤ 1), pagination excluded",
    note: "scenario 1, ours / peer within each run, median over runs; wall: wall time less pagination; cpu: this process's CPU time less pagination",
  },
  engineCallsPerBatch: fixed.measured && fixed.engineCalls
    ? {
        value: fixed.engineCalls.perBatch,
        total: fixed.engineCalls.total,
        batches: fixed.batches,
        note: "every engine call from the runner call to the last hop, over the batches (20,000 documents at a batch of 100: the start's few calls spread over 200 batches)",
      }
    : { value: null, note: "not measured in this run" },
  batchPathWasmBytes: batchRow
    ? { value: batchRow.rawBytes, gzip: batchRow.gzipBytes, goal: 100_000, met: batchRow.rawBytes <= 100_000, note: "js-shim/wasm/engine-hop_bg.wasm (the module a per-batch hop loads), from bench/cold-load.ts" }
    : { value: null, note: "not measured: bench/results/cold-load.json is missing" },
  coldLoadPerHopMs: batchRow
    ? {
        value: batchRow.perHop,
        compileNotCached: batchAfresh?.perHop ?? null,
        goal: 2,
        note: "decode (Buffer) + compile + instantiate + first jobStep, a fresh V8 context per hop; value: V8 reuses the compiled module, compileNotCached: it does not",
      }
    : { value: null, note: "not measured: bench/results/cold-load.json is missing" },
};

const figures = {
  generatedAt: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", platform: process.platform },
  runs: raw.runs,
  peerAt100k: raw.full,
  sizes: raw.sizes,
  goals,
  scenarios,
  wasm,
  ...(coldLoad ? { coldLoad } : {}),
};
writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);

// The table for a person.
const n = (x: number | null | undefined) => (x === undefined || x === null ? "–" : x.toLocaleString("en-US"));
const secs = (s: { min: number; median: number; max: number } | undefined) =>
  s === undefined ? "–" : `${(s.median / 1000).toFixed(1)} s (${(s.min / 1000).toFixed(1)}–${(s.max / 1000).toFixed(1)})`;
const ms = (s: { min: number; median: number; max: number } | undefined) => (s === undefined ? "–" : `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`);
const x = (r: number | null) => (r === null ? "–" : `${r.toFixed(2)}×`);
type Summary = ReturnType<typeof summary>;
const get = <T>(m: Summary, f: (s: Extract<Summary, { measured: true }>) => T): T | undefined => (m.measured ? f(m) : undefined);
const outcome = (m: Summary) =>
  !m.measured
    ? "not run"
    : m.state === "success"
      ? `done: ${n(m.processed)} docs, ${n(m.batches)} batches${m.finalBatchSize ? `, last ${n(m.finalBatchSize)}/batch` : ""}`
      : `failed after ${n(m.processed)} docs: ${(m.error ?? "").split(" (limit")[0]}`;
const share = (m: Summary) => get(m, (s) => (s.bindingShare ? `${(s.bindingShare.median * 100).toFixed(1)}% of ${s.bindingShare.limit}` : "–")) ?? "–";

type Row = [string, string, string, string, string];
const rows: Row[] = [["scenario", "figure", "convex-migrate", "@convex-dev/migrations", "ours / peer"]];
const block = (title: string, s: ReturnType<typeof sideBySide>) => {
  rows.push(
    [title, "sequential hops / transactions", `${n(get(s.ours, (o) => o.scheduledHops))} / ${n(get(s.ours, (o) => o.transactions))}`, s.peer.measured ? `${n(s.peer.scheduledHops)} / ${n(s.peer.transactions)}` : "not run*", x(s.ratios.scheduledHops)],
    ["", "docs per batch, mean (max)", `${n(get(s.ours, (o) => o.docsPerBatch.mean))} (${n(get(s.ours, (o) => o.docsPerBatch.max))})`, s.peer.measured ? `${n(s.peer.docsPerBatch.mean)} (${n(s.peer.docsPerBatch.max)})` : "–", ""],
    ["", "binding limit, steady state", share(s.ours), share(s.peer), ""],
    ["", "wall time", secs(get(s.ours, (o) => o.wallMs)), secs(get(s.peer, (o) => o.wallMs)), x(s.ratios.wallTime)],
    ["", "of which pagination", secs(get(s.ours, (o) => o.paginationMs)), secs(get(s.peer, (o) => o.paginationMs)), x(s.ratios.pagination)],
    ["", "the rest, per batch", ms(get(s.ours, (o) => o.restMsPerBatch)), ms(get(s.peer, (o) => o.restMsPerBatch)), x(s.ratios.restPerBatch)],
    ["", "the rest, per batch, CPU", ms(get(s.ours, (o) => o.restCpuMsPerBatch)), ms(get(s.peer, (o) => o.restCpuMsPerBatch)), x(s.ratios.restCpuPerBatch)],
  );
};
block(`1. ${n(raw.sizes.fixed.docs)} small docs, batch 100`, scenarios.fixedBatch100);
block(`2. ${n(raw.sizes.defaults.docs)} tiny docs, defaults`, scenarios.defaults100k);
block(`2b. ${n(raw.sizes.defaultsScaled.docs)} tiny docs, defaults`, scenarios.defaults20k);
rows.push(
  [`3. ${n(raw.sizes.large.docs)} docs of ${n(raw.sizes.large.bodyBytes / 1000)} KB, defaults`, "outcome", outcome(scenarios.largeDocs.ours), outcome(scenarios.largeDocs.peer), ""],
  ["", "binding limit, steady state", share(scenarios.largeDocs.ours), "", ""],
  [`4. ${n(raw.sizes.workers.docs)} tiny docs, workers: 4`, "hops per chain / transactions", `${(get(four, (o) => o.hopsPerChain) ?? []).join(", ")} / ${n(get(four, (o) => o.transactions))}`, "no workers", ""],
  ["5. Wasm engine", "raw / gzipped", `${(wasm.rawBytes / 1024).toFixed(0)} KB / ${(wasm.gzipBytes / 1024).toFixed(0)} KB`, "no Wasm", ""],
  ["", "cold init (fresh process)", `${wasm.coldInit.total.toFixed(1)} ms`, "", ""],
  ["", "cold load per hop, ms", goals.coldLoadPerHopMs.value === null ? "–" : `${goals.coldLoadPerHopMs.value.medianMs} (${goals.coldLoadPerHopMs.value.minMs}–${goals.coldLoadPerHopMs.value.maxMs})`, "", ""],
  ["", "engine calls per batch", goals.engineCallsPerBatch.value === null ? "–" : String(goals.engineCallsPerBatch.value), "", ""],
);
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
console.log(
  `\nconvex-migrate vs @convex-dev/migrations 0.3.6 on convex-test, Convex limits enforced; ${raw.runs} run(s): median (min–max), ratios within a run\n`,
);
console.log(line(rows[0]!));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows.slice(1)) console.log(line(r));
if (!scenarios.defaults100k.peer.measured) console.log(`\n* The peer on ${n(raw.sizes.defaults.docs)} documents: ${PEER_100K_NOTE}.`);
console.log(
  `\nGoal 1: ${n(goals.hops100k.ours)} hops for ${n(raw.sizes.defaults.docs)} tiny documents (goal ≤ 10; floor ${FLOOR_TRANSACTIONS} transactions).`,
);
console.log(`\n${describeWasm(wasm)}`);
console.log(`\nWritten to ${out}`);
