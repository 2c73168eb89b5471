#!/usr/bin/env bash
# Builds crates/engine-wasm to js-shim/wasm/: wasm-bindgen (--target web), then
# wasm-opt from the npm binaryen package, then embeds the bytes as base64 in a
# JS module so Convex and convex-test load it without any bundler plugin.
# Skips all of it when the Rust sources are unchanged since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=js-shim/wasm
STAMP="$OUT/.source-hash"
hash=$( (cat Cargo.lock Cargo.toml; find crates/engine crates/engine-wasm -type f \( -name '*.rs' -o -name 'Cargo.toml' \) -not -path '*/tests/*' | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ "${FORCE_WASM_BUILD:-}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ] && [ -f "$OUT/engine-bytes.js" ]; then
  exit 0
fi

printf '\033[2m[setup]\033[0m %s\n' "building the engine's Wasm module" >&2
cargo build -p convex-migrate-engine-wasm --target wasm32-unknown-unknown --release --quiet
rm -rf "$OUT" && mkdir -p "$OUT"
wasm-bindgen "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/convex_migrate_engine_wasm.wasm" \
  --target web --out-dir "$OUT" --out-name engine
node_modules/.bin/wasm-opt "$OUT/engine_bg.wasm" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong \
  --enable-multivalue --enable-mutable-globals --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-sign-ext \
  -o "$OUT/engine_bg.opt.wasm"
mv "$OUT/engine_bg.opt.wasm" "$OUT/engine_bg.wasm"
node scripts/embed-wasm.mjs "$OUT/engine_bg.wasm" "$OUT/engine-bytes.js"
echo "$hash" > "$STAMP"
