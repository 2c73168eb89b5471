#!/usr/bin/env bash
# Regenerates example/convex/_generated without a deployment. Offline codegen
# leaves out the `components` export, so it is added back here. Run it after
# adding or removing a module in example/convex.
set -euo pipefail
cd "$(dirname "$0")/../example"
npx convex codegen --system-udfs --typecheck disable >/dev/null
gen=convex/_generated
cat >> "$gen/api.d.ts" <<'TS'

import type { ComponentApi as MigrationsComponentApi } from "convex-migrate/_generated/component.js";
/** The mounted components (added by scripts/codegen-example.sh). */
export declare const components: {
  migrations: MigrationsComponentApi<"migrations">;
};
TS
cat >> "$gen/api.js" <<'JS'

import { componentsGeneric } from "convex/server";
/** The mounted components (added by scripts/codegen-example.sh). */
export const components = componentsGeneric();
JS
