// Fails when TypeScript files import each other in a cycle, type imports
// included: a cycle means two files share a responsibility that deserves its
// own module (STYLE.md, "No cycles between files"). Convex's `_generated/`
// modules import every function module's types by design and are left out.
import madge from "madge";

const ROOTS = ["convex", "js-shim/src", "example/convex", "tests", "bench"];

/**
 * Cycles known and being removed, each with its reason. The executor in
 * convex/jobs.ts reads the `runs` table for a run's planned checksum, and
 * convex/runs.ts starts workers through jobs.ts; issue 12 moves those
 * lookups into one store module. An entry that no longer matches a cycle
 * fails the check, so the list cannot outlive the cycles.
 */
const KNOWN = [];

const same = (a, b) => a.length === b.length && a.every((file) => b.includes(file));

const graph = await madge(ROOTS, {
  fileExtensions: ["ts"],
  tsConfig: "tsconfig.json",
  excludeRegExp: [/(^|\/)_generated\//],
});
const cycles = graph.circular();
const unknown = cycles.filter((cycle) => !KNOWN.some((known) => same(known, cycle)));
const stale = KNOWN.filter((known) => !cycles.some((cycle) => same(known, cycle)));

for (const cycle of unknown) {
  console.error(`import cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
}
for (const known of stale) {
  console.error(`no longer a cycle: ${known.join(" <-> ")}. Remove it from KNOWN in scripts/check-cycles.mjs.`);
}
if (unknown.length > 0) {
  console.error("Move what the files share into a module of its own, so each imports it instead of the other.");
}
const files = Object.keys(graph.obj()).length;
if (unknown.length > 0 || stale.length > 0) process.exit(1);
console.log(`no import cycles among ${files} files${KNOWN.length ? ` (${KNOWN.length} known, listed in KNOWN)` : ""}`);
