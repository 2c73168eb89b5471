#!/usr/bin/env bash
# `npm run bench`: convex-migrate side by side with @convex-dev/migrations on
# convex-test (Convex's transaction limits enforced), plus the Wasm module's
# size and cold start. Prints one table; writes bench/results/latest.json.
# Not part of `npm test` (tests/bench-smoke.test.ts is). Takes about ten
# minutes on 2 cores. BENCH_RUNS=N changes the number of runs (default 3);
# BENCH_FULL=1 also runs the peer on 100,000 documents (about 11 minutes more per run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
mkdir -p bench/results
printf '\033[2m[bench]\033[0m %s\n' "Wasm size and cold start" >&2
npx tsx bench/wasm-size.ts --runs 15 --json bench/results/.wasm.tmp.json >/dev/null
printf '\033[2m[bench]\033[0m %s\n' "cold load per hop (bench/cold-load.ts)" >&2
node --expose-gc --import tsx bench/cold-load.ts --runs 50 --json bench/results/cold-load.json
printf '\033[2m[bench]\033[0m %s\n' "scenarios 1-4, ${BENCH_RUNS:-3} run(s)" >&2
npx vitest run --config bench/vitest.config.ts --silent=passed-only
npx tsx bench/report.ts --scenarios bench/results/.scenarios.tmp.json --wasm bench/results/.wasm.tmp.json \
  --cold-load bench/results/cold-load.json --out bench/results/latest.json
