#!/usr/bin/env bash
# Every test of the project, from a fresh clone: set-up first, then Rust
# format, lints and tests, the Wasm tests and build, TypeScript checks, the
# convex-test suites, and the packaged-tarball check. Fails on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "set-up"
bash scripts/setup.sh

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

section "cargo test (engine and its fuzz targets)"
cargo test -p convex-migrate-engine -p convex-migrate-engine-fuzz --quiet

section "generated TypeScript types are current"
if [ -n "$(git status --porcelain -- js-shim/src/engine-types)" ]; then
  git status --porcelain -- js-shim/src/engine-types
  echo "The engine's types changed: commit js-shim/src/engine-types (cargo test regenerates them)." >&2
  exit 1
fi

section "wasm-bindgen tests (Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p convex-migrate-engine-wasm --target wasm32-unknown-unknown --test node

section "tsc --noEmit"
npx tsc --noEmit -p tsconfig.json

section "eslint"
npx eslint . --max-warnings 0

section "no import cycles between files"
node scripts/check-cycles.mjs

section "vitest"
npx vitest run

section "package as users get it"
bash scripts/pack-test.sh

section "@convex-dev/migrations' own tests against the packed package"
# The tarball pack-test made from a fresh copy: one package, tested twice.
CONVEX_MIGRATE_TARBALL="$PWD/.pack/convex-migrate.tgz" bash scripts/peer-suite.sh
