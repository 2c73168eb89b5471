import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "edge-runtime",
    // convex-migrate/test is TypeScript with import.meta.glob: vite must transform it.
    server: { deps: { inline: ["convex-test", "convex-migrate"] } },
    include: ["client/**/*.test.ts", "component/**/*.test.ts"],
  },
});
