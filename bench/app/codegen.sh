#!/usr/bin/env bash
# Regenerates bench/app/convex/_generated with both tools' components.
exec bash "$(dirname "$0")/../../scripts/codegen-offline.sh" bench/app \
  migrations=convex-migrate/_generated/component.js \
  peerMigrations=@convex-dev/migrations/_generated/component.js
