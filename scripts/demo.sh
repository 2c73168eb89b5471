#!/usr/bin/env bash
# The main job: the whole migration workflow on an in-memory Convex deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx tsx js-shim/src/cli/main.ts demo "$@"
