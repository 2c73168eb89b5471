#!/usr/bin/env bash
# Proves the package works as users get it: builds, packs the tarball, installs
# it into a throwaway app outside the repository (no tsconfig paths, no vitest
# aliases), generates that app's convex/_generated offline, then typechecks the
# app and runs its convex-test suite (tests/pack/app). Cleans up after itself.
# Usage: bash scripts/pack-test.sh [--refresh-fixture]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
start=$SECONDS

step() { printf '\033[2m[pack-test %3ds]\033[0m %s\n' "$((SECONDS - start))" "$*" >&2; }
checked=()

# Offline codegen for an app folder; it leaves out `components`, which is
# added back as scripts/codegen-example.sh does.
codegen() {
  (
    cd "$1"
    npx convex codegen --system-udfs --typecheck disable >/dev/null
    cat >>convex/_generated/api.d.ts <<'TS'

import type { ComponentApi as MigrationsComponentApi } from "convex-migrate/_generated/component.js";
/** The mounted components (offline codegen leaves them out). */
export declare const components: {
  migrations: MigrationsComponentApi<"migrations">;
};
TS
    cat >>convex/_generated/api.js <<'JS'

import { componentsGeneric } from "convex/server";
/** The mounted components (offline codegen leaves them out). */
export const components = componentsGeneric();
JS
  )
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --refresh-fixture: rewrite tests/pack/app/convex/_generated, which the
# repository's own tsc needs to typecheck the fixture. Run it after adding or
# removing a module there.
if [ "${1:-}" = --refresh-fixture ]; then
  cp -R tests/pack/app "$work/app"
  echo '{"type":"module","dependencies":{"convex":"*"}}' >"$work/app/package.json"
  ln -s "$repo/node_modules" "$work/app/node_modules"
  rm -rf "$work/app/convex/_generated"
  codegen "$work/app"
  rm -rf tests/pack/app/convex/_generated
  cp -R "$work/app/convex/_generated" tests/pack/app/convex/_generated
  echo "refreshed tests/pack/app/convex/_generated"
  exit 0
fi

step "build"
bash scripts/build.sh >&2

step "npm pack"
mkdir "$work/pack"
tarball="$work/pack/$(npm pack --silent --pack-destination "$work/pack" 2>/dev/null | tail -n 1)"
[ -f "$tarball" ] || { echo "pack-test: npm pack produced no tarball" >&2; exit 1; }

# What must never ship: tests, the Rust side, build output of other tools.
unwanted="$(tar -tzf "$tarball" | grep -E '\.test\.ts$|\.spec\.ts$|/node_modules/|^package/(target|crates|tests|example|bench|scripts)/|\.wasm$' || true)"
if [ -n "$unwanted" ]; then
  echo "pack-test: the tarball holds files it should not:" >&2
  echo "$unwanted" >&2
  exit 1
fi
for needed in dist/js-shim/src/client/index.js dist/convex/convex.config.js dist/js-shim/wasm/engine-bytes.js \
  js-shim/src/test.ts js-shim/wasm/engine-bytes.js convex/schema.ts convex/_generated/api.ts; do
  tar -tzf "$tarball" "package/$needed" >/dev/null 2>&1 || { echo "pack-test: the tarball lacks $needed" >&2; exit 1; }
done
checked+=("tarball: $(tar -tzf "$tarball" | wc -l) files, $(du -k "$tarball" | cut -f1) KB, no tests/crates/target, entry points present")

step "install into a throwaway app"
app="$work/app"
cp -R tests/pack/app "$app"
rm -rf "$app/convex/_generated"
node - "$repo/package.json" "$tarball" "$app/package.json" <<'JS'
const fs = require("node:fs");
const [root, tarball, out] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(root, "utf8"));
const pick = (name) => {
  const version = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
  if (!version) throw new Error(`pack-test: ${name} is not a dependency of the root package.json`);
  return version;
};
const devDependencies = {};
for (const name of ["convex-test", "vitest", "@edge-runtime/vm", "typescript"]) devDependencies[name] = pick(name);
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      name: "convex-migrate-pack-test",
      private: true,
      type: "module",
      dependencies: { convex: pick("convex"), "convex-migrate": `file:${tarball}` },
      devDependencies,
    },
    null,
    2,
  ),
);
JS
(cd "$app" && npm install --prefer-offline --no-audit --no-fund --loglevel=error >&2)
checked+=("npm install of the tarball with convex, convex-test, vitest, @edge-runtime/vm, typescript at the repo's versions")

step "convex codegen (offline)"
codegen "$app"

step "tsc --noEmit in the app"
(cd "$app" && npx tsc --noEmit -p tsconfig.json >&2)
checked+=("tsc --noEmit of an app importing convex-migrate, /convex.config, /test, /_generated/component.js")

step "vitest run in the app"
(cd "$app" && npx vitest run --reporter=dot >&2)
checked+=("vitest (edge-runtime): runner + scheduled batches, getStatus success, runToCompletion in t.run and in an action")

# dist/js-shim/wasm is a copy of js-shim/wasm (dist for the deployed
# component and the client, the sources for convex-migrate/test).
installed="$app/node_modules/convex-migrate"
for f in "$installed"/js-shim/wasm/*; do
  cmp -s "$f" "$installed/dist/js-shim/wasm/$(basename "$f")" || { echo "pack-test: dist/js-shim/wasm/$(basename "$f") differs from js-shim/wasm" >&2; exit 1; }
done

step "bundle the component and the app as convex deploy does"
node tests/pack/bundle-check.mjs "$app" "$work/bundles" >&2
checked+=("esbuild bundles of dist/convex and the app's convex/ (Convex's options) build and load")

if [ -f "$installed/dist/js-shim/src/cli/main.js" ]; then
  step "convex-migrate --help through the installed bin"
  (cd "$app" && npx --no-install convex-migrate --help >/dev/null)
  checked+=("npx convex-migrate --help (installed bin: shebang, executable bit, imports)")
else
  checked+=("CLI: skipped, dist/js-shim/src/cli/main.js does not exist yet")
fi

echo "pack-test passed in $((SECONDS - start)) s:"
for c in "${checked[@]}"; do echo "  - $c"; done
