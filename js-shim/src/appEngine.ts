/**
 * What the app's batch function asks the engine, from the smallest module
 * (the `app` feature of crates/engine-wasm): where a positional cursor
 * stopped, and whether a batch's patches moved documents within the index it
 * walks. It runs in the app's own bundle on every batch, so it loads these
 * bytes and no others.
 */
import * as glue from "../wasm/engine-app.js";
import { ENGINE_APP_WASM_BASE64 } from "../wasm/engine-app-bytes.js";
import { exportOf, invoke, lazyModule } from "./engineLoader.js";
import type { CursorPosition } from "./engine-types/CursorPosition.js";
import type { CursorRequest } from "./engine-types/CursorRequest.js";
import type { IndexWalkRequest } from "./engine-types/IndexWalkRequest.js";

const app = lazyModule(glue, ENGINE_APP_WASM_BASE64);

/** Refuse a batch whose patches moved documents within the index it walks. */
export const checkIndexWalk = (req: IndexWalkRequest): void => {
  invoke(exportOf("checkIndexWalk", app), req);
};
/** The document id a positional cursor stopped at, when its text tells. */
export const cursorPosition = (req: CursorRequest): CursorPosition => invoke(exportOf("cursorPosition", app), req);
