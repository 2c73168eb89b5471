/**
 * What a hop pays to reach its first engine answer when nothing is reused:
 * each call runs in a fresh V8 context (`vm.createContext`), as Convex runs a
 * request whose module does not export `experimental_reuseContext`. The
 * loader is the real one (js-shim/src/engine.ts, bundled by esbuild as a
 * deployment bundles it), so the time covers parsing the embedded base64
 * string, decoding it with the method the context has, compiling,
 * instantiating and one `jobStep` call. The full engine's module (a
 * superset) is measured the same way for comparison, through the same
 * loader and the same call, as a hop paid it when there was one module.
 *
 * V8 keeps compiled Wasm by its bytes per isolate while a module object
 * lives, so whether a hop compiles again depends on the collector. Each case
 * runs twice: `compileCached` (contexts back to back, as a busy isolate runs
 * requests) and, when node runs with --expose-gc, not cached (the heap
 * collected before each context, which drops the compiled module). The first
 * context of the process is reported on its own (`firstMs`).
 *
 *     node --expose-gc --import tsx bench/cold-load.ts [--runs 50] [--json bench/results/cold-load.json]
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A request a hop really sends: a migration's first start, whose answer plans its first batch. */
const HOP_CALL = `engine.jobStep({ workers: [], event: { type: "start", nowMs: 1764000000000, batchSize: 100, reset: false, oneBatchOnly: false, inline: false }, hasNext: false, onTrial: false, siblingsUnread: false, ownSize: false })`;

/** `prelude` binds `engine` to the module's entry points. */
type Module = { name: "batch" | "full"; prelude: string; bytesModule: string; constant: string };

const MODULES: Module[] = [
  {
    name: "batch",
    // A hop's own path: jobStep from the hop module (js-shim/src/engine.ts).
    prelude: `import * as engine from "./js-shim/src/engine.ts";`,
    bytesModule: "js-shim/wasm/engine-hop-bytes.js",
    constant: "ENGINE_HOP_WASM_BASE64",
  },
  {
    name: "full",
    prelude: [
      `import * as glue from "./js-shim/wasm/engine-full.js";`,
      `import { ENGINE_FULL_WASM_BASE64 } from "./js-shim/wasm/engine-full-bytes.js";`,
      `import { invoke, lazyModule } from "./js-shim/src/engineLoader.ts";`,
      `const full = lazyModule(glue, ENGINE_FULL_WASM_BASE64);`,
      `const engine = { jobStep: (req) => invoke(full().jobStep, req) };`,
    ].join("\n"),
    bytesModule: "js-shim/wasm/engine-full-bytes.js",
    constant: "ENGINE_FULL_WASM_BASE64",
  },
];

/** How the context decodes base64, and the globals that make it so. */
type Decoder = "buffer" | "atob";

export type Spread = { minMs: number; medianMs: number; maxMs: number };
export type ColdLoad = {
  module: Module["name"];
  rawBytes: number;
  gzipBytes: number;
  /** Length of the bundled script a context parses (the base64 string is most of it). */
  scriptBytes: number;
  decoder: Decoder;
  /** False when the heap was collected before each context, so each compiles afresh. */
  compileCached: boolean;
  runs: number;
  /** The first context in the process: compile not cached. */
  firstMs: number;
  /** Every later context: parse + decode + instantiate (+ cached compile) + first call. */
  perHop: Spread;
  /** Of which the first call: decode + compile + instantiate + the call itself (the loader is lazy). */
  firstCall: Spread;
};

/** The loader and one call, bundled into a plain script a context can run. */
async function script(m: Module): Promise<string> {
  const result = await esbuild.build({
    stdin: {
      contents: `${m.prelude}\nconst t0 = performance.now();\nglobalThis.answer = ${HOP_CALL};\nglobalThis.callMs = performance.now() - t0;\n`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    conditions: ["convex", "module"],
    mainFields: ["module", "main"],
    logLevel: "error",
  });
  return result.outputFiles[0]!.text;
}

/** The globals Convex gives a request that the loader and the glue use. */
function globalsFor(decoder: Decoder): Record<string, unknown> {
  const base = { TextEncoder, TextDecoder, atob, btoa, console, performance };
  return decoder === "buffer" ? { ...base, Buffer } : base;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { minMs: round(sorted[0]!), medianMs: round(median), maxMs: round(sorted[sorted.length - 1]!) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

const collector = (globalThis as { gc?: () => void }).gc;

function runOnce(compiled: vm.Script, decoder: Decoder, collect: boolean): { total: number; call: number } {
  const context = vm.createContext(globalsFor(decoder));
  if (collect) collector?.();
  const t0 = performance.now();
  compiled.runInContext(context);
  const total = performance.now() - t0;
  if (context.answer === undefined) throw new Error("cold-load: the engine call returned nothing");
  return { total, call: context.callMs as number };
}

/** Cold loads of one module with one decoder, `runs` fresh contexts. */
export async function measureColdLoad(m: Module, decoder: Decoder, runs: number, collect = false): Promise<ColdLoad> {
  const source = await script(m);
  const { [m.constant]: base64 } = (await import(new URL(`../${m.bytesModule}`, import.meta.url).href)) as Record<string, string>;
  const bytes = Buffer.from(base64!, "base64");
  // A new vm.Script per context: V8 parses each context's source afresh, as a
  // request evaluating its bundle does (no code cache is passed).
  const times: number[] = [];
  const calls: number[] = [];
  let first = 0;
  for (let i = 0; i <= runs; i++) {
    const { total, call } = runOnce(new vm.Script(`${source}\n//# run=${decoder}-${i}`), decoder, collect);
    if (i === 0) first = total;
    else {
      times.push(total);
      calls.push(call);
    }
  }
  return {
    module: m.name,
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    scriptBytes: source.length,
    decoder,
    compileCached: !collect,
    runs,
    firstMs: round(first),
    perHop: spread(times),
    firstCall: spread(calls),
  };
}

export async function measureAll(runs: number): Promise<ColdLoad[]> {
  const out: ColdLoad[] = [];
  const modes = collector ? [false, true] : [false];
  for (const collect of modes)
    for (const m of MODULES)
      for (const decoder of ["buffer", "atob"] as const) out.push(await measureColdLoad(m, decoder, runs, collect));
  return out;
}

export function describeColdLoad(rows: ColdLoad[]): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  return rows
    .map(
      (r) =>
        `${r.module.padEnd(5)} ${kb(r.rawBytes)} raw, ${kb(r.gzipBytes)} gzip; decode ${r.decoder.padEnd(6)} ` +
        `compile ${r.compileCached ? "cached  " : "afresh  "}` +
        `cold load per hop min/median/max ${r.perHop.minMs}/${r.perHop.medianMs}/${r.perHop.maxMs} ms ` +
        `(first call ${r.firstCall.medianMs} ms of it; ${r.runs} fresh contexts; first in process ${r.firstMs} ms)`,
    )
    .join("\n");
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const rows = await measureAll(Number(arg("--runs") ?? 50));
  const out = arg("--json");
  if (out) writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
  console.log(describeColdLoad(rows));
}
