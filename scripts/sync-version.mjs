// Writes package.json's version into convex/version.ts, the constant the
// component stores on every run's release record (a deployed component cannot
// read package.json). `npm version` runs this; `--check` (the build) fails
// when the two disagree instead of writing.
import fs from "node:fs";
import { URL } from "node:url";

const root = new URL("../", import.meta.url);
const { version } = JSON.parse(fs.readFileSync(new URL("package.json", root), "utf8"));
const file = new URL("convex/version.ts", root);
const source = `/**
 * The convex-migrate version this component was built from; every versioned
 * run's release record stores it. Written from package.json by
 * scripts/sync-version.mjs (\`npm version\` runs it); the build refuses a
 * mismatch.
 */
export const CONVEX_MIGRATE_VERSION = ${JSON.stringify(version)};
`;

if (process.argv.includes("--check")) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (current !== source) {
    console.error(
      `convex/version.ts does not hold package.json's version ${version}: run \`node scripts/sync-version.mjs\` and commit it.`,
    );
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, source);
}
