/**
 * Bundles the installed component (node_modules/convex-migrate/dist/convex)
 * and the app's convex/ folder the way `npx convex deploy` does (esbuild,
 * browser platform, "convex" condition, one entry per function module), then
 * evaluates every bundled module once. It catches what convex-test cannot:
 * the component is deployed from dist/, while convex-test runs its sources.
 *
 * Usage: node tests/pack/bundle-check.mjs <app dir> <scratch dir>
 */
import console from "node:console";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const [appDir, scratch] = process.argv.slice(2).map((p) => path.resolve(p));
const require = createRequire(path.join(appDir, "package.json"));
const esbuild = require(require.resolve("esbuild", { paths: [path.dirname(require.resolve("convex/package.json"))] }));

/** Function modules as Convex picks them (see convex's bundler `entryPoints`). */
function entryPoints(dir, top = dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(top, full);
    if (entry.isDirectory()) {
      if (rel !== "_generated" && !fs.existsSync(path.join(full, "convex.config.ts"))) found.push(...entryPoints(full, top));
      continue;
    }
    const base = entry.name;
    if (!/\.(js|mjs|cjs|ts|tsx|jsx)$/.test(base) || base.startsWith(".")) continue;
    if (/^schema\.(js|ts)$/.test(base) || (base.match(/\./g) ?? []).length > 1) continue;
    found.push(full);
  }
  return found;
}

async function bundle(label, dir, extra = []) {
  const entries = [...entryPoints(dir), ...extra.map((f) => path.join(dir, f))];
  const outdir = path.join(scratch, label);
  const result = await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "esnext",
    outdir,
    outbase: dir,
    conditions: ["convex", "module"],
    splitting: true,
    chunkNames: "_deps/[hash]",
    treeShaking: true,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "error",
  });
  if (result.errors.length) throw new Error(`${label}: esbuild failed`);
  // Definitions (convex.config) only evaluate inside Convex: bundle them, do not load them.
  for (const entry of entries.slice(0, entries.length - extra.length)) {
    const out = path.join(outdir, path.relative(dir, entry)).replace(/\.(ts|tsx|jsx|mjs|cjs)$/, ".js");
    await import(pathToFileURL(out).href);
  }
  return entries.map((e) => path.relative(dir, e));
}

const componentDir = path.dirname(require.resolve("convex-migrate/convex.config"));
const component = await bundle("component", componentDir);
// convex.config.ts is bundled on its own by Convex; here it joins the app bundle.
const app = await bundle("app", path.join(appDir, "convex"), ["convex.config.ts"]);
console.log(`bundled component [${component.join(", ")}] and app [${app.join(", ")}]; loaded all but convex.config`);
