// @vitest-environment node
/**
 * The engine ships as two Wasm modules: the batch path's (js-shim/src/engine.ts)
 * and the full engine (js-shim/src/fullEngine.ts). These tests hold the split
 * where a deployment feels it: in what each bundled function module loads.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { afterEach, describe, expect, test, vi } from "vitest";
import { decodeBase64 } from "../js-shim/src/engineLoader";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BATCH_BYTES = "js-shim/wasm/engine-bytes.js";
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

  test("the hop (convex/worker.ts) calls the engine through the batch-path module", async () => {
    const inputs = await bundledInputs("convex/worker.ts");
    expect(inputs).toContain(BATCH_BYTES);
    expect(inputs).not.toContain(FULL_BYTES);
  });

  test("versioned start, status and repair load the full engine, which they need for drift and plans", async () => {
    expect(await bundledInputs("convex/versioned.ts")).toContain(FULL_BYTES);
  });

  test("the batch-path module has none of the full engine's entry points", async () => {
    const batch = await import("../js-shim/wasm/engine.js");
    const full = await import("../js-shim/wasm/engine-full.js");
    for (const name of ["checksum", "buildManifest", "decideStart", "diffSchemas", "checkPage", "planBridge"]) {
      expect(batch).not.toHaveProperty(name);
      expect(full).toHaveProperty(name);
    }
    for (const name of ["jobStep", "runStep", "summarize", "cursorPosition", "checkIndexWalk"]) {
      expect(batch).toHaveProperty(name);
    }
    // The worker machine on its own: no hop calls it, the job machine drives the workers.
    expect(batch).not.toHaveProperty("workerStep");
    expect(full).toHaveProperty("workerStep");
    const size = (f: string) => Buffer.from(fs.readFileSync(path.join(ROOT, f), "utf8").split('"')[1]!, "base64").length;
    expect(size(BATCH_BYTES)).toBeLessThan(size(FULL_BYTES) * 0.6);
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
