#!/usr/bin/env bash
# Regenerates example/convex/_generated (see scripts/codegen-offline.sh).
exec bash "$(dirname "$0")/codegen-offline.sh" example migrations=convex-migrate/_generated/component.js
