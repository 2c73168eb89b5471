#!/usr/bin/env bash
# Proves the package works as users get it, made the one way it is made:
# `npm pack` in a fresh copy of the working tree (tracked and new files, none
# of the ignored ones: no dist/, no js-shim/wasm/), whose prepack builds
# everything, Wasm included. The tarball is kept at .pack/convex-migrate.tgz
# for later steps. Its file list is checked; it is installed into a throwaway
# app outside the repository (no tsconfig paths, no vitest aliases) with the
# lowest convex version package.json claims; that app's convex/_generated is
# generated offline; the app is typechecked and its convex-test suite runs
# (tests/pack/app); the installed CLI runs --version, --env-file and demo.
# Cleans up after itself (the tarball stays).
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
# The fresh copy lives at a path fixed per checkout: Cargo keys its build of
# the workspace's crates by their path, so from the second run on the copy's
# Wasm build finds them compiled (the copy keeps the files' times).
clone="${TMPDIR:-/tmp}/convex-migrate-pack-$(printf '%s' "$repo" | sha256sum | cut -c1-12)"
trap 'rm -rf "$work" "$clone"' EXIT

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

step "fresh copy of the working tree"
# What a clone has: tracked files and new ones not ignored, with their
# contents as they are now. node_modules is linked in (set-up would install
# the same lock file); the Rust build shares the repository's target folder,
# so only the workspace's own crates compile again.
rm -rf "$clone"
mkdir -p "$clone"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$clone"
for absent in dist js-shim/wasm .demo; do
  [ ! -e "$clone/$absent" ] || { echo "pack-test: the fresh copy holds $absent, which git should ignore" >&2; exit 1; }
done
cp -al "$repo/node_modules" "$clone/node_modules" 2>/dev/null || cp -a "$repo/node_modules" "$clone/node_modules"

step "npm pack in the fresh copy (prepack builds)"
mkdir "$work/pack"
(cd "$clone" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" npm pack --pack-destination "$work/pack" --loglevel=error >&2)
made=("$work"/pack/*.tgz)
[ -f "${made[0]}" ] || { echo "pack-test: npm pack produced no tarball" >&2; exit 1; }
mkdir -p .pack
tarball="$repo/.pack/convex-migrate.tgz"
cp "${made[0]}" "$tarball"
echo "pack-test: tarball at $tarball" >&2

# What must never ship: tests and fixtures, the Rust side, build output of other tools.
files="$(tar -tzf "$tarball")"
unwanted="$(printf '%s\n' "$files" | grep -E '\.test\.ts$|\.spec\.ts$|/node_modules/|^package/(target|crates|tests|bench|scripts|\.demo|\.pack)/|\.wasm$|/faults\.ts$' || true)"
unwanted+="$(printf '%s\n' "$files" | grep -E '^package/example/' | grep -vE '^package/example/convex/' || true)"
if [ -n "$unwanted" ]; then
  echo "pack-test: the tarball holds files it should not:" >&2
  echo "$unwanted" >&2
  exit 1
fi
for needed in dist/js-shim/src/client/index.js dist/convex/convex.config.js dist/convex/version.js dist/js-shim/wasm/engine-bytes.js dist/js-shim/wasm/engine-hop-bytes.js dist/js-shim/wasm/engine-app-bytes.js dist/js-shim/wasm/engine-full-bytes.js \
  dist/js-shim/src/cli/main.js js-shim/src/test.ts js-shim/wasm/engine-bytes.js js-shim/wasm/engine-full-bytes.js convex/schema.ts convex/_generated/api.ts \
  example/convex/migrate.ts example/convex/_generated/api.js README.md CHANGELOG.md; do
  # A here-string, not a pipe: grep -q stops reading at the match, and under
  # pipefail the writer's SIGPIPE would fail the check at random.
  grep -qxF "package/$needed" <<<"$files" || { echo "pack-test: the tarball lacks $needed" >&2; exit 1; }
done
tar_files=$(printf '%s\n' "$files" | wc -l)
tar_kb=$(( ($(wc -c <"$tarball") + 1023) / 1024 ))
checked+=("tarball from npm pack in a fresh copy: $tar_files files, $tar_kb KB, entry points, CLI, demo app and CHANGELOG present; no tests, fixtures, crates or target")

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
// The lowest convex the package claims: `^X.Y.Z` in peerDependencies.
const claim = pkg.peerDependencies?.convex ?? "";
const lowest = /^\^(\d+\.\d+\.\d+)$/.exec(claim)?.[1];
if (!lowest) throw new Error(`pack-test: peerDependencies.convex is "${claim}"; write it as ^X.Y.Z so its lowest version can be installed`);
const devDependencies = {};
for (const name of ["convex-test", "vitest", "@edge-runtime/vm", "typescript", "tsx"]) devDependencies[name] = pick(name);
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      name: "convex-migrate-pack-test",
      private: true,
      type: "module",
      dependencies: { convex: lowest, "convex-migrate": `file:${tarball}` },
      devDependencies,
    },
    null,
    2,
  ),
);
JS
(cd "$app" && npm install --prefer-offline --no-audit --no-fund --loglevel=error >&2)
convex_claim="$(node -p 'require(process.argv[1]).peerDependencies.convex' "$repo/package.json")"
convex_installed="$(node -p 'require(process.argv[1]).version' "$app/node_modules/convex/package.json")"
[ "^$convex_installed" = "$convex_claim" ] || { echo "pack-test: installed convex $convex_installed, but the package claims $convex_claim" >&2; exit 1; }
checked+=("npm install of the tarball with convex $convex_installed (the lowest of $convex_claim), and convex-test, vitest, @edge-runtime/vm, typescript, tsx at the repo's versions")

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

bin="$app/node_modules/.bin/convex-migrate"
step "the installed CLI: --help, --version"
(cd "$app" && npx --no-install convex-migrate --help >/dev/null)
want_version="$(node -p 'require(process.argv[1]).version' "$repo/package.json")"
got_version="$(cd "$app" && "$bin" --version)"
[ "$got_version" = "$want_version" ] || { echo "pack-test: convex-migrate --version printed '$got_version', not $want_version" >&2; exit 1; }
checked+=("installed bin (shebang, executable bit, imports): --help, and --version prints $got_version")

step "the installed CLI: --env-file on Node $(node --version)"
# A stand-in npx answers `convex run` and records what it was passed.
mkdir "$work/fakebin"
cat >"$work/fakebin/npx" <<'JS'
#!/usr/bin/env node
require("node:fs").appendFileSync(process.env.PACK_TEST_CALLS, JSON.stringify(process.argv.slice(2)) + "\n");
console.log(JSON.stringify({ activeRun: null, recentRuns: [], migrations: [], pending: [], drift: [] }));
JS
chmod +x "$work/fakebin/npx"
printf 'CONVEX_DEPLOYMENT=dev:pack-test-123\n' >"$app/.env.pack"
calls="$work/calls.jsonl"
(cd "$app" && PACK_TEST_CALLS="$calls" PATH="$work/fakebin:$PATH" "$bin" status --json --env-file .env.pack >/dev/null)
grep -qF '"--env-file",".env.pack"' "$calls" || { echo "pack-test: --env-file did not reach npx convex run: $(cat "$calls")" >&2; exit 1; }
checked+=("installed bin with --env-file and a real .env file: passed through to npx convex run")

step "convex-migrate demo from the installed package"
# A smaller table than the demo's default: the workflow is the same, the run shorter.
(cd "$app" && npx --no-install convex-migrate demo --todos 2000 >"$work/demo.log" 2>&1) || { tail -n 30 "$work/demo.log" >&2; echo "pack-test: the demo failed" >&2; exit 1; }
mv "$app/node_modules/convex-test" "$work/convex-test.aside"
set +e
(cd "$app" && "$bin" demo >"$work/demo-missing.log" 2>&1)
missing_code=$?
set -e
mv "$work/convex-test.aside" "$app/node_modules/convex-test"
if [ "$missing_code" != 2 ] || ! grep -qF 'npm install --save-dev convex-test@' "$work/demo-missing.log"; then
  cat "$work/demo-missing.log" >&2
  echo "pack-test: without convex-test the demo must exit 2 saying what to install (it exited $missing_code)" >&2
  exit 1
fi
checked+=("npx convex-migrate demo --todos 2000 runs the whole workflow from the installed package; without convex-test it exits 2 naming the install command")

echo "pack-test passed in $((SECONDS - start)) s:"
for c in "${checked[@]}"; do echo "  - $c"; done
