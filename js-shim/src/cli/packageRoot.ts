/**
 * Where the convex-migrate package lives: the repository when the CLI runs
 * from its sources, the installed package folder when it runs from dist/.
 * The two layouts differ in depth, so the folder is found, not computed.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

type PackageJson = { name?: string; version?: string; peerDependencies?: Record<string, string> };

/** The nearest folder at or above `from` whose package.json is convex-migrate's. */
export function packageRootFrom(from: string): { dir: string; pkg: PackageJson } {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson;
      if (pkg.name === "convex-migrate") return { dir, pkg };
    } catch {
      // No package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) throw new Error(`No convex-migrate package.json at or above ${from}.`);
  }
}

/** This package: its folder and its package.json. */
export const PACKAGE = packageRootFrom(path.dirname(fileURLToPath(import.meta.url)));
