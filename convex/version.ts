/**
 * The convex-migrate version this component was built from; every versioned
 * run's release record stores it. Written from package.json by
 * scripts/sync-version.mjs (`npm version` runs it); the build refuses a
 * mismatch.
 */
export const CONVEX_MIGRATE_VERSION = "0.1.0";
