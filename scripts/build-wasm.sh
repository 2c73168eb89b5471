#!/usr/bin/env bash
# Builds crates/engine-wasm to js-shim/wasm/ four times, one module per kind
# of request (crates/engine-wasm/src/lib.rs lists each one's exports):
#   engine-hop   `hop`: jobStep, all a per-batch hop calls
#   engine-app   `app`: what the app's batch function calls, in the app's bundle
#   engine       `hop` + `control`: start, cancel, a run's step, status
#   engine-full  the default `full` feature: every entry point (manifest, plan, drift, schema diff, validators)
# Each: wasm-bindgen (--target web), then wasm-opt from the npm binaryen
# package, then its bytes embedded as base64 in a JS module so Convex and
# convex-test load it without any bundler plugin. Skips all of it when the
# Rust sources are unchanged since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=js-shim/wasm
STAMP="$OUT/.source-hash"
hash=$( (cat Cargo.lock Cargo.toml scripts/build-wasm.sh scripts/embed-wasm.mjs; find crates/engine crates/engine-wasm -type f \( -name '*.rs' -o -name 'Cargo.toml' \) -not -path '*/tests/*' | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ "${FORCE_WASM_BUILD:-}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ] && [ -f "$OUT/engine-hop-bytes.js" ] && [ -f "$OUT/engine-app-bytes.js" ] && [ -f "$OUT/engine-bytes.js" ] && [ -f "$OUT/engine-full-bytes.js" ]; then
  exit 0
fi

printf '\033[2m[setup]\033[0m %s\n' "building the engine's Wasm modules" >&2
rm -rf "$OUT" && mkdir -p "$OUT"
artifact="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/convex_migrate_engine_wasm.wasm"

# build_module <output name> <exported constant> <cargo feature flags...>
# Every build writes the same artifact, so each is taken through wasm-bindgen
# before the next build replaces it.
build_module() {
  local name="$1" constant="$2"
  shift 2
  cargo build -p convex-migrate-engine-wasm --target wasm32-unknown-unknown --release --quiet "$@"
  wasm-bindgen "$artifact" --target web --out-dir "$OUT" --out-name "$name"
  node_modules/.bin/wasm-opt "$OUT/${name}_bg.wasm" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong \
    --enable-multivalue --enable-mutable-globals --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext \
    -o "$OUT/${name}_bg.opt.wasm"
  mv "$OUT/${name}_bg.opt.wasm" "$OUT/${name}_bg.wasm"
  node scripts/embed-wasm.mjs "$OUT/${name}_bg.wasm" "$OUT/${name}-bytes.js" "$constant"
}
build_module engine-hop ENGINE_HOP_WASM_BASE64 --no-default-features --features hop
build_module engine-app ENGINE_APP_WASM_BASE64 --no-default-features --features app
build_module engine ENGINE_WASM_BASE64 --no-default-features --features hop,control
build_module engine-full ENGINE_FULL_WASM_BASE64
echo "$hash" > "$STAMP"
