#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, and nothing that is
# already there: npm packages, the wasm32 target, the pinned wasm-bindgen-cli.
# Then builds the engine's Wasm module when its sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' crates/engine-wasm/Cargo.toml)"

step() { printf '\033[2m[setup]\033[0m %s\n' "$*" >&2; }

# npm packages: install when node_modules is missing or older than the lock.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once per machine)"
  # --locked is left out on purpose: one locked dependency of the CLI is newer
  # than some registry mirrors carry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" >&2
fi

bash scripts/build-wasm.sh
