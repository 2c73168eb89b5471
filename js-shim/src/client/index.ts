/**
 * convex-migrate: online data migrations for Convex.
 *
 * Layer 1 is a drop-in for @convex-dev/migrations (`Migrations`,
 * `runToCompletion`); layer 2 adds versioned migrations (`defineMigration`,
 * `defineMigrationSet`, `migrations.versioned(manifest)`).
 */
export { Migrations, runToCompletion, DEFAULT_BATCH_SIZE } from "./migrations.js";
export type { MigrationsOptions, DefineOptions, RunArgs, MigrationFunctionReference } from "./migrations.js";
export { defineMigration, defineMigrationSet } from "./versioned.js";
export type { MigrationStep, VersionedMigration, MigrationSet, VersionedContext } from "./versioned.js";
export type { MigrationStatus } from "../../../convex/validators.js";
export { EngineError } from "../engine.js";
