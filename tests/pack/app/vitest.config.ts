import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "edge-runtime",
    // convex-migrate/test is TypeScript source with import.meta.glob, so vite
    // must transform it rather than hand it to Node.
    server: { deps: { inline: ["convex-test", "convex-migrate"] } },
    include: ["convex/**/*.spec.ts"],
  },
});
