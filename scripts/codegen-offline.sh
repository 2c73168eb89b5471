#!/usr/bin/env bash
# Regenerates an app's convex/_generated without a deployment, then adds back
# the `components` export that offline codegen leaves out.
#
#   scripts/codegen-offline.sh <app dir> <name>=<ComponentApi module> ...
#
# e.g. scripts/codegen-offline.sh example migrations=convex-migrate/_generated/component.js
# Run it after adding or removing a module in that app's convex/ folder.
set -euo pipefail
app="$1"; shift
cd "$(dirname "$0")/../$app"
npx convex codegen --system-udfs --typecheck disable >/dev/null
gen=convex/_generated
{
  echo
  fields=""
  for spec in "$@"; do
    name="${spec%%=*}" module="${spec#*=}"
    echo "import type { ComponentApi as ${name}ComponentApi } from \"$module\";"
    fields+="  $name: ${name}ComponentApi<\"$name\">;"$'\n'
  done
  echo "/** The mounted components (added by scripts/codegen-offline.sh). */"
  echo "export declare const components: {"
  printf '%s' "$fields"
  echo "};"
} >> "$gen/api.d.ts"
cat >> "$gen/api.js" <<'JS'

import { componentsGeneric } from "convex/server";
/** The mounted components (added by scripts/codegen-offline.sh). */
export const components = componentsGeneric();
JS
