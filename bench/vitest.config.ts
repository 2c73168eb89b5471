/**
 * The benchmark's own vitest config: the repository's (aliases, edge-runtime)
 * with only the benchmark included, so `npx vitest run` never picks it up
 * and `npm run bench` runs nothing else.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    ...base.test,
    include: ["bench/side-by-side.ts"],
    testTimeout: 60 * 60_000,
  },
});
