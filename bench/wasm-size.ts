/**
 * The engine's Wasm modules as shipped: the batch path's (embedded in
 * js-shim/wasm/engine-bytes.js, what a hop loads) and the full engine's
 * (js-shim/wasm/engine-full-bytes.js): raw and gzipped size, and for the
 * batch path's, how long it takes to get from nothing to a first answer.
 * bench/cold-load.ts measures the same per fresh V8 context, as a hop pays it.
 *
 * Cold initialisation is measured in fresh `node` processes, because V8
 * caches compiled Wasm by its bytes within a process: each child imports the
 * embedded bytes, decodes them, compiles (`new WebAssembly.Module`),
 * instantiates (`initSync`) and makes one engine call. The in-process figure
 * (fresh JS module instance, same isolate) is what Convex pays when it
 * re-evaluates a module per request.
 *
 *     npx tsx bench/wasm-size.ts [--runs 15] [--json out.json] [--dir js-shim/wasm]
 *
 * `--dir` measures another build's engine.js + engine-bytes.js (to compare
 * build settings); its first call is `summarize`, which every build has.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const DEFAULT_DIR = fileURLToPath(new URL("../js-shim/wasm/", import.meta.url));

/** Phases of one initialisation, in milliseconds. */
export type InitTiming = { load: number; decode: number; compile: number; instantiate: number; firstCall: number; total: number };

export type WasmFigures = {
  /** The batch-path module, the one a hop loads. */
  rawBytes: number;
  gzipBytes: number;
  /** The full engine's module, loaded off the batch path only (absent in an older build). */
  full?: { rawBytes: number; gzipBytes: number };
  runs: number;
  /** Medians over fresh processes: from importing the embedded bytes to the first answer. */
  coldInit: InitTiming;
  /** Medians over fresh module instances in this process (V8's compiled-module cache warm). */
  warmInit: InitTiming;
};

/**
 * One initialisation; runs in a child (cold) or here (warm). Kept free of
 * closures over this module so its source can be sent to `node -e`.
 */
async function initOnce(bytesUrl: string, glueUrl: string): Promise<InitTiming> {
  const t0 = performance.now();
  const { ENGINE_WASM_BASE64 } = (await import(bytesUrl)) as { ENGINE_WASM_BASE64: string };
  const glue = (await import(glueUrl)) as {
    initSync: (opts: { module: WebAssembly.Module }) => unknown;
    summarize: (input: unknown) => unknown;
  };
  const t1 = performance.now();
  // Decoded as the loader does it (js-shim/src/engine.ts): Uint8Array.fromBase64
  // where the runtime has it (Convex does), else the atob loop (Node 20).
  const withFromBase64 = Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array };
  let bytes: Uint8Array;
  if (typeof withFromBase64.fromBase64 === "function") {
    bytes = withFromBase64.fromBase64(ENGINE_WASM_BASE64);
  } else {
    const binary = atob(ENGINE_WASM_BASE64);
    bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  }
  const t2 = performance.now();
  const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const t3 = performance.now();
  glue.initSync({ module });
  const t4 = performance.now();
  glue.summarize({ workers: [], nowMs: 0 });
  const t5 = performance.now();
  return { load: t1 - t0, decode: t2 - t1, compile: t3 - t2, instantiate: t4 - t3, firstCall: t5 - t4, total: t5 - t0 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medians(timings: InitTiming[]): InitTiming {
  const keys = ["load", "decode", "compile", "instantiate", "firstCall", "total"] as const;
  return Object.fromEntries(keys.map((k) => [k, round(median(timings.map((t) => t[k])))])) as InitTiming;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

function coldRun(bytesUrl: string, glueUrl: string): InitTiming {
  const script = `(${initOnce.toString()})(${JSON.stringify(bytesUrl)}, ${JSON.stringify(glueUrl)})
    .then((t) => process.stdout.write(JSON.stringify(t)))`;
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
}

/** Measure size and initialisation `runs` times each. */
export async function measureWasm(runs = 15, dir = DEFAULT_DIR): Promise<WasmFigures> {
  const bytesUrl = pathToFileURL(join(dir, "engine-bytes.js")).href;
  const glueUrl = pathToFileURL(join(dir, "engine.js")).href;
  const { ENGINE_WASM_BASE64 } = (await import(bytesUrl)) as { ENGINE_WASM_BASE64: string };
  const bytes = Buffer.from(ENGINE_WASM_BASE64, "base64");
  const cold = Array.from({ length: runs }, () => coldRun(bytesUrl, glueUrl));
  const fullPath = join(dir, "engine-full-bytes.js");
  const full = existsSync(fullPath)
    ? Buffer.from(((await import(pathToFileURL(fullPath).href)) as { ENGINE_FULL_WASM_BASE64: string }).ENGINE_FULL_WASM_BASE64, "base64")
    : undefined;
  const warm: InitTiming[] = [];
  for (let i = 0; i < runs; i++) warm.push(await initOnce(`${bytesUrl}?run=${i}`, `${glueUrl}?run=${i}`));
  return {
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    ...(full ? { full: { rawBytes: full.length, gzipBytes: gzipSync(full, { level: 9 }).length } } : {}),
    runs,
    coldInit: medians(cold),
    warmInit: medians(warm),
  };
}

function kb(bytes: number) {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** A few lines for a person. */
export function describeWasm(f: WasmFigures): string {
  const phases = (t: InitTiming) =>
    `${t.total} ms (load ${t.load}, decode ${t.decode}, compile ${t.compile}, instantiate ${t.instantiate}, first call ${t.firstCall})`;
  return [
    `Wasm module of the batch path: ${kb(f.rawBytes)} raw, ${kb(f.gzipBytes)} gzipped`,
    ...(f.full ? [`full engine's module: ${kb(f.full.rawBytes)} raw, ${kb(f.full.gzipBytes)} gzipped`] : []),
    `cold init, fresh process (median of ${f.runs}): ${phases(f.coldInit)}`,
    `re-init, fresh module instance (median of ${f.runs}): ${phases(f.warmInit)}`,
  ].join("\n");
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const figures = await measureWasm(Number(arg("--runs") ?? 15), resolve(arg("--dir") ?? DEFAULT_DIR));
  const out = arg("--json");
  if (out) writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
  console.log(describeWasm(figures));
}
