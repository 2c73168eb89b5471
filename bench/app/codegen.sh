#!/usr/bin/env bash
# Regenerates bench/app/convex/_generated without a deployment, the way
# scripts/codegen-example.sh does for the example app: offline codegen, then
# the `components` export it leaves out (here both tools' components).
set -euo pipefail
cd "$(dirname "$0")"
npx convex codegen --system-udfs --typecheck disable >/dev/null
gen=convex/_generated
cat >> "$gen/api.d.ts" <<'TS'

import type { ComponentApi as MigrationsComponentApi } from "convex-migrate/_generated/component.js";
import type { ComponentApi as PeerMigrationsComponentApi } from "@convex-dev/migrations/_generated/component.js";
/** The mounted components (added by bench/app/codegen.sh). */
export declare const components: {
  migrations: MigrationsComponentApi<"migrations">;
  peerMigrations: PeerMigrationsComponentApi<"peerMigrations">;
};
TS
cat >> "$gen/api.js" <<'JS'

import { componentsGeneric } from "convex/server";
/** The mounted components (added by bench/app/codegen.sh). */
export const components = componentsGeneric();
JS
