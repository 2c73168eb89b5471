#!/usr/bin/env bash
# Builds the npm package into dist/: the engine's Wasm (via setup.sh, skipped
# when current), then tsc over convex/ and js-shim/src/ keeping their layout,
# then the generated Wasm modules next to them, then the CLI's executable bit.
# `npm pack` and `npm publish` run it first (prepack), so a fresh clone packs
# a working package.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
node scripts/sync-version.mjs --check

rm -rf dist
npx tsc -p tsconfig.build.json

mkdir -p dist/js-shim/wasm
cp js-shim/wasm/*.js js-shim/wasm/*.d.ts dist/js-shim/wasm/

cli=dist/js-shim/src/cli/main.js
if [ -f "$cli" ]; then
  if [ "$(head -c 2 "$cli")" != "#!" ]; then
    echo "build: $cli lacks its '#!/usr/bin/env node' line (it must be the first line of js-shim/src/cli/main.ts)" >&2
    exit 1
  fi
  chmod +x "$cli"
fi
