/**
 * What both engine modules share: decoding the embedded bytes, instantiating
 * once per JavaScript module instance, and turning a refusal into an
 * `EngineError`. Kept apart from either module so importing it pulls in no
 * Wasm bytes.
 */
import { ConvexError, type Value } from "convex/values";

/** What an engine refusal carries across function and component boundaries. */
export type EngineErrorData = {
  kind: "ENGINE_ERROR";
  code: string;
  message: string;
  hint: string;
  details: Record<string, Value> | null;
};

/**
 * An input the engine refused. `code` is stable (e.g. `"NO_DOWN_STEP"`);
 * `data.details` holds the facts (ids, checksums, cursor).
 */
export class EngineError extends ConvexError<EngineErrorData> {
  readonly code: string;
  constructor(data: EngineErrorData) {
    super(data);
    this.message = data.message;
    this.code = data.code;
  }
}

type Base64Runtime = {
  Uint8Array: { fromBase64?: (s: string) => Uint8Array };
  Buffer?: { from(s: string, encoding: "base64"): Uint8Array };
};

/**
 * The embedded bytes, decoded by the fastest means the runtime has:
 * `Uint8Array.fromBase64` (Convex), `Buffer` (Node), else `atob` and a loop.
 */
export function decodeBase64(base64: string): Uint8Array {
  const runtime = globalThis as unknown as Base64Runtime;
  if (typeof runtime.Uint8Array.fromBase64 === "function") return runtime.Uint8Array.fromBase64(base64);
  if (typeof runtime.Buffer?.from === "function") return runtime.Buffer.from(base64, "base64");
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

type Glue = { initSync(options: { module: Uint8Array }): unknown };

/** The modules this JavaScript module instance has instantiated, first first. */
const instantiated: Glue[] = [];

/**
 * The module's exports, instantiated on first use. Convex re-evaluates
 * modules per request, so nothing here outlives the request, and a request
 * that never calls the engine never decodes it.
 */
export function lazyModule<M extends Glue>(glue: M, base64: string): () => M {
  return () => {
    if (!instantiated.includes(glue)) {
      glue.initSync({ module: decodeBase64(base64) });
      instantiated.push(glue);
    }
    return glue;
  };
}

/**
 * The export `name` of a module this request has already instantiated, else
 * of `own` (instantiated now): a request that loaded a larger module for an
 * earlier call does not compile a second one for an entry point it also has.
 */
export function exportOf(name: string, own: () => Glue): (input: unknown) => unknown {
  for (const glue of instantiated) {
    const fn = (glue as unknown as Record<string, unknown>)[name];
    if (typeof fn === "function") return fn as (input: unknown) => unknown;
  }
  return (own() as unknown as Record<string, (input: unknown) => unknown>)[name]!;
}

let calls = 0;

/**
 * How many times this module instance has called into the engine (either
 * module): what a batch costs at the boundary (the benchmark reports calls
 * per batch).
 */
export const engineCalls = (): number => calls;

/** Call one export; a refusal comes back as an `EngineError` with its code, hint and facts. */
export function invoke<R>(fn: (input: unknown) => unknown, input: unknown): R {
  calls++;
  try {
    return fn(input) as R;
  } catch (error) {
    const e = error as { code?: unknown; hint?: unknown; details?: unknown; message?: unknown };
    if (typeof e?.code === "string") {
      throw new EngineError({
        kind: "ENGINE_ERROR",
        code: e.code,
        message: String(e.message),
        hint: String(e.hint ?? ""),
        details: (e.details as Record<string, Value> | null) ?? null,
      });
    }
    throw error;
  }
}
