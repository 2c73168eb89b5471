#!/usr/bin/env bash
# Runs @convex-dev/migrations' own shipped tests against the packed
# convex-migrate: copies src/client/index.test.ts and src/component/lib.test.ts
# out of node_modules/@convex-dev/migrations at test time into a scratch app
# outside the repository, rewrites only their import specifiers (the files are
# otherwise the peer's, byte for byte), installs the tarball, and runs vitest
# and tsc --noEmit there. scripts/peer-suite/README.md lists what the harness
# provides and any test left out, with why. Nothing of the peer's is kept.
# Usage: bash scripts/peer-suite.sh
#   CONVEX_MIGRATE_TARBALL=path/to/convex-migrate-x.y.z.tgz  reuse a packed tarball
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
start=$SECONDS
step() { printf '\033[2m[peer-suite %3ds]\033[0m %s\n' "$((SECONDS - start))" "$*" >&2; }

peer="$repo/node_modules/@convex-dev/migrations"
[ -f "$peer/src/client/index.test.ts" ] && [ -f "$peer/src/component/lib.test.ts" ] || {
  echo "peer-suite: @convex-dev/migrations' tests are missing from node_modules; run npm ci." >&2
  exit 2
}
peer_version="$(node -p "require('$peer/package.json').version")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="${CONVEX_MIGRATE_TARBALL:-}"
if [ -z "$tarball" ]; then
  step "build and npm pack"
  bash scripts/build.sh >&2
  mkdir "$work/pack"
  tarball="$work/pack/$(npm pack --silent --pack-destination "$work/pack" 2>/dev/null | tail -n 1)"
fi
[ -f "$tarball" ] || { echo "peer-suite: no tarball at $tarball; unset CONVEX_MIGRATE_TARBALL to build one." >&2; exit 2; }
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"

step "scratch app with the peer's $peer_version tests"
app="$work/app"
cp -R scripts/peer-suite "$app"
rm -f "$app/README.md"
mkdir -p "$app/client"
# Only import specifiers change. Relative imports of the peer's component
# internals (_generated, schema, setup.test) stay as they are and resolve to
# the harness's files beside them, which re-export convex-migrate's.
rewrite() {
  sed -E \
    -e 's#from "\./index\.js"#from "convex-migrate"#' \
    -e 's#from "\.\./client/index\.js"#from "convex-migrate"#' \
    -e 's#from "\.\./shared\.js"#from "convex-migrate"#' \
    -e 's#from "\.\./component/_generated/component\.js"#from "convex-migrate/_generated/component.js"#' \
    "$1" >"$2"
  # A line that differs may only differ in an import specifier.
  if diff <(grep -v '^import\|^} from' "$1") <(grep -v '^import\|^} from' "$2") >/dev/null; then :; else
    echo "peer-suite: rewriting $1 changed more than import specifiers" >&2
    exit 1
  fi
}
rewrite "$peer/src/client/index.test.ts" "$app/client/index.test.ts"
rewrite "$peer/src/component/lib.test.ts" "$app/component/lib.test.ts"

node - "$repo/package.json" "$tarball" "$app/package.json" <<'JS'
const fs = require("node:fs");
const [root, tarball, out] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(root, "utf8"));
const pick = (name) => pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
const devDependencies = {};
for (const name of ["convex-test", "vitest", "@edge-runtime/vm", "typescript"]) devDependencies[name] = pick(name);
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      name: "convex-migrate-peer-suite",
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
step "npm install"
(cd "$app" && npm install --prefer-offline --no-audit --no-fund --loglevel=error >&2)

step "tsc --noEmit over the peer's tests"
(cd "$app" && npx tsc --noEmit -p tsconfig.json >&2)

step "vitest run of the peer's tests"
(cd "$app" && npx vitest run --reporter=verbose >&2)

echo "peer-suite passed in $((SECONDS - start)) s: @convex-dev/migrations $peer_version's client/index.test.ts and component/lib.test.ts, type-checked and run against $(basename "$tarball")"
