import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // The example app imports the package by its npm name; tests run it
    // against the sources, the pack test runs it against the built tarball.
    alias: [
      { find: /^convex-migrate$/, replacement: here("./js-shim/src/client/index.ts") },
      { find: /^convex-migrate\/convex\.config$/, replacement: here("./convex/convex.config.ts") },
      { find: /^convex-migrate\/test$/, replacement: here("./js-shim/src/test.ts") },
      {
        find: /^convex-migrate\/_generated\/component\.js$/,
        replacement: here("./convex/_generated/component.ts"),
      },
    ],
  },
  test: {
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    include: ["tests/**/*.test.ts", "convex/**/*.test.ts", "js-shim/src/**/*.test.ts", "example/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
