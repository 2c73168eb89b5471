#!/usr/bin/env bash
# Fuzz the engine: every target for a given time, one at a time, then
# minimize each corpus and print a table of runs, crashes and corpus sizes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   cargo-fuzz (nightly); default 300 s, all targets
#   scripts/fuzz.sh --proptest [CASES]                 the same targets under proptest, on stable
#   scripts/fuzz.sh --list                             the target names
#
# cargo-fuzz needs a nightly toolchain and `cargo install cargo-fuzz`; without
# them the script says so and falls back to --proptest. Targets and their
# generators live in crates/engine-fuzz/src. Each run grows a working corpus
# in crates/engine-fuzz/fuzz/corpus-raw/<target>/ (ignored by git) and rewrites
# the committed, minimized one in crates/engine-fuzz/corpus/<target>/; a crash
# leaves its input in crates/engine-fuzz/fuzz/artifacts/<target>/.
# One fuzzing process at a time, niced, so the machine stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_DIR=crates/engine-fuzz/fuzz
CORPUS_DIR=crates/engine-fuzz/corpus
DICT_DIR=crates/engine-fuzz/dicts
TARGETS=(api_json api_values decide_start worker_machine run_machine check_page diff_schemas)
MAX_LEN=4096

proptest_run() {
  local cases="${1:-100000}"
  echo "proptest: ${cases} cases per target (release build, overflow checks on)"
  # A target directory of its own: the overflow-check override would
  # otherwise rebuild everyone's release artifacts.
  FUZZ_CASES="$cases" \
    CARGO_TARGET_DIR=target/fuzz-proptest \
    CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
    CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true \
    nice -n 10 cargo test --release -p convex-migrate-engine-fuzz --test fuzz_engine \
    -- --ignored --test-threads=1
}

case "${1:-}" in
  --list)
    printf '%s\n' "${TARGETS[@]}"
    exit 0
    ;;
  --proptest)
    proptest_run "${2:-}"
    exit 0
    ;;
  -h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

SECONDS_PER_TARGET="${1:-300}"
shift || true
if [ "$#" -gt 0 ]; then TARGETS=("$@"); fi
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...] (got '$SECONDS_PER_TARGET')" >&2
  exit 2
fi

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz or a nightly toolchain is missing (rustup toolchain install nightly;" >&2
  echo "cargo install cargo-fuzz); running the proptest targets instead." >&2
  proptest_run
  exit 0
fi

# Debug assertions and overflow checks stay on (no -O); no sanitizer: the
# engine is safe Rust, and the properties are "no panic" and "deterministic".
FUZZ=(cargo +nightly fuzz)
FUZZ_FLAGS=(--fuzz-dir "$FUZZ_DIR" --sanitizer none)
LOG_DIR="$FUZZ_DIR/target/logs"
mkdir -p "$LOG_DIR"

echo "building the fuzz targets"
"${FUZZ[@]}" build "${FUZZ_FLAGS[@]}" >"$LOG_DIR/build.log" 2>&1 || {
  cat "$LOG_DIR/build.log" >&2
  exit 1
}

failed=0
summary=()
for target in "${TARGETS[@]}"; do
  # libFuzzer grows its working corpus in corpus-raw/ (not committed) and
  # also reads the committed corpus/, which is rebuilt below from both.
  raw="$FUZZ_DIR/corpus-raw/$target"
  corpus="$CORPUS_DIR/$target"
  mkdir -p "$raw" "$corpus"
  extra=()
  if [ -f "$DICT_DIR/$target.dict" ]; then extra+=("-dict=$PWD/$DICT_DIR/$target.dict"); fi
  echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
  status=ok
  if ! nice -n 10 "${FUZZ[@]}" run "${FUZZ_FLAGS[@]}" "$target" "$raw" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$MAX_LEN" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
    >"$LOG_DIR/$target.log" 2>&1; then
    status=CRASH
    failed=1
    grep -E "panicked|ERROR|Test unit written" "$LOG_DIR/$target.log" | head -5 >&2 || true
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG_DIR/$target.log" | awk '{print $2}' | tail -1 || true)
  # The committed corpus: a small set of inputs (greedy set cover) with
  # every feature of the working corpus (edges, not hit counts).
  fresh="$FUZZ_DIR/corpus-raw/.$target.min"
  rm -rf "$fresh" && mkdir -p "$fresh"
  if nice -n 10 "${FUZZ[@]}" run "${FUZZ_FLAGS[@]}" "$target" "$fresh" "$corpus" "$raw" -- \
    -set_cover_merge=1 -use_counters=0 -max_len="$MAX_LEN" >"$LOG_DIR/$target.merge.log" 2>&1; then
    rm -rf "$corpus" && mv "$fresh" "$corpus"
  else
    echo "warning: could not minimize $target's corpus (see $LOG_DIR/$target.merge.log)" >&2
    rm -rf "$fresh"
  fi
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  summary+=("$(printf '%-16s %6ss %12s runs  %-5s  corpus %5s files %9s bytes' \
    "$target" "$SECONDS_PER_TARGET" "${runs:-?}" "$status" "$files" "$bytes")")
done

echo
printf '%s\n' "${summary[@]}"
echo "committed corpus: $(find "$CORPUS_DIR" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}') bytes in $(find "$CORPUS_DIR" -type f | wc -l) files; logs in $LOG_DIR"
exit "$failed"
