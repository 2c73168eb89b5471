// @vitest-environment node
/**
 * The engine ships as four Wasm modules, one per kind of request: the hop's
 * (jobStep only), the app batch function's (js-shim/src/appEngine.ts), the
 * control module for start, runs and status (js-shim/src/engine.ts) and the
 * full engine (js-shim/src/fullEngine.ts). These tests hold the split where a
 * deployment feels it: in what each bundled function module carries and what
 * a request instantiates.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { afterEach, describe, expect, test, vi } from "vitest";
import { decodeBase64, exportOf, lazyModule } from "../js-shim/src/engineLoader";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BATCH_BYTES = "js-shim/wasm/engine-bytes.js";
const HOP_BYTES = "js-shim/wasm/engine-hop-bytes.js";
const APP_BYTES = "js-shim/wasm/engine-app-bytes.js";
const FULL_BYTES = "js-shim/wasm/engine-full-bytes.js";

/** The component's function modules, as Convex picks its entry points. */
const componentModules = fs
  .readdirSync(path.join(ROOT, "convex"))
  .filter((f) => /\.ts$/.test(f) && !/\.test\.ts$/.test(f) && !["schema.ts", "convex.config.ts"].includes(f));

/** Every source file a module's bundle holds, bundled as a deployment bundles it. */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    platform: "browser",
    conditions: ["convex", "module"],
    logLevel: "silent",
  });
  return Object.keys(result.metafile.inputs);
}

describe("which Wasm module a function module loads", () => {
  test.each(componentModules.filter((f) => f !== "versioned.ts"))(
    "convex/%s carries the batch-path module and not the full engine",
    async (file) => {
      const inputs = await bundledInputs(`convex/${file}`);
      expect(inputs).not.toContain(FULL_BYTES);
      if (inputs.some((i) => i.startsWith("js-shim/src/"))) expect(inputs).toContain(BATCH_BYTES);
    },
  );

  test("the hop (convex/worker.ts) carries the hop module and not the full engine", async () => {
    const inputs = await bundledInputs("convex/worker.ts");
    expect(inputs).toContain(HOP_BYTES);
    expect(inputs).not.toContain(FULL_BYTES);
  });

  test("the app's batch function (js-shim/src/client/batch.ts) carries the app module only", async () => {
    const inputs = await bundledInputs("js-shim/src/client/batch.ts");
    expect(inputs).toContain(APP_BYTES);
    for (const other of [HOP_BYTES, BATCH_BYTES, FULL_BYTES]) expect(inputs).not.toContain(other);
  });

  test("versioned start, status and repair load the full engine, which they need for drift and plans", async () => {
    expect(await bundledInputs("convex/versioned.ts")).toContain(FULL_BYTES);
  });

  test("each module has its own request's entry points and no other's", async () => {
    const hop = await import("../js-shim/wasm/engine-hop.js");
    const app = await import("../js-shim/wasm/engine-app.js");
    const control = await import("../js-shim/wasm/engine.js");
    const full = await import("../js-shim/wasm/engine-full.js");
    const fullOnly = ["checksum", "buildManifest", "decideStart", "diffSchemas", "checkPage", "planBridge", "workerStep"];
    const controlOnly = ["runStep", "summarize", "checkBatchSize", "adoptPeer", "jobView", "skipsStart", "dryRunVerdict"];
    const appOnly = ["cursorPosition", "checkIndexWalk"];
    expect(hop).toHaveProperty("jobStep");
    expect(control).toHaveProperty("jobStep");
    expect(app).not.toHaveProperty("jobStep");
    for (const name of fullOnly) {
      for (const m of [hop, app, control]) expect(m).not.toHaveProperty(name);
      expect(full).toHaveProperty(name);
    }
    for (const name of controlOnly) {
      for (const m of [hop, app]) expect(m).not.toHaveProperty(name);
      for (const m of [control, full]) expect(m).toHaveProperty(name);
    }
    for (const name of appOnly) {
      for (const m of [hop, control]) expect(m).not.toHaveProperty(name);
      for (const m of [app, full]) expect(m).toHaveProperty(name);
    }
    const size = (f: string) => Buffer.from(fs.readFileSync(path.join(ROOT, f), "utf8").split('"')[1]!, "base64").length;
    expect(size(APP_BYTES)).toBeLessThan(size(HOP_BYTES));
    expect(size(HOP_BYTES)).toBeLessThan(size(BATCH_BYTES));
    expect(size(BATCH_BYTES)).toBeLessThan(size(FULL_BYTES) * 0.6);
  });
});

describe("which module a request instantiates", () => {
  /** A stand-in glue whose `initSync` counts, with the entry points named. */
  const fakeGlue = (...names: string[]) => {
    const glue = { inits: 0, initSync: () => void glue.inits++ } as { inits: number; initSync(): void } & Record<string, unknown>;
    for (const name of names) glue[name] = () => name;
    return glue;
  };
  const bytes = Buffer.from([0, 97, 115, 109]).toString("base64");

  test("an entry point comes from a module the request already instantiated, so a second is not compiled", () => {
    const big = fakeGlue("jobStep", "runStep");
    const small = fakeGlue("jobStep");
    const bigModule = lazyModule(big, bytes);
    const smallModule = lazyModule(small, bytes);
    expect(exportOf("runStep", bigModule)).toBe(big.runStep);
    expect(exportOf("jobStep", smallModule)).toBe(big.jobStep);
    expect(small.inits).toBe(0);
    expect(big.inits).toBe(1);
  });

  test("a request that has instantiated nothing with the entry point compiles its own module once", () => {
    const other = fakeGlue("summarize");
    const own = fakeGlue("cursorPosition");
    lazyModule(other, bytes)();
    const ownModule = lazyModule(own, bytes);
    expect(exportOf("cursorPosition", ownModule)).toBe(own.cursorPosition);
    expect(exportOf("cursorPosition", ownModule)).toBe(own.cursorPosition);
    expect(own.inits).toBe(1);
    expect(other.inits).toBe(1);
  });
});

describe("decoding the embedded bytes", () => {
  const text = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)).toString("base64");
  const expected = Uint8Array.from(Buffer.from(text, "base64"));
  afterEach(() => {
    vi.unstubAllGlobals();
    delete (Uint8Array as { fromBase64?: unknown }).fromBase64;
  });

  test("uses Uint8Array.fromBase64 where the runtime has it, as Convex does", () => {
    const fromBase64 = vi.fn((s: string) => Uint8Array.from(Buffer.from(s, "base64")));
    (Uint8Array as { fromBase64?: unknown }).fromBase64 = fromBase64;
    expect(decodeBase64(text)).toEqual(expected);
    expect(fromBase64).toHaveBeenCalledWith(text);
  });

  test("uses Buffer where there is no fromBase64, as in Node", () => {
    const atob = vi.fn(globalThis.atob);
    vi.stubGlobal("atob", atob);
    expect(Uint8Array.from(decodeBase64(text))).toEqual(expected);
    expect(atob).not.toHaveBeenCalled();
  });

  test("falls back to atob where neither exists", () => {
    vi.stubGlobal("Buffer", undefined);
    const atob = vi.fn(globalThis.atob);
    vi.stubGlobal("atob", atob);
    expect(decodeBase64(text)).toEqual(expected);
    expect(atob).toHaveBeenCalledOnce();
  });
});
