/**
 * convex-migrate: online data migrations for Convex.
 *
 * Layer 1 is a drop-in for @convex-dev/migrations (`Migrations`,
 * `runToCompletion` and the rest of its exports, name for name); layer 2
 * adds versioned migrations (`defineMigration`, `defineMigrationSet`,
 * `migrations.versioned(manifest)`).
 */
export { Migrations, runToCompletion } from "./migrations.js";
export { DEFAULT_BATCH_SIZE } from "../engine-types/constants.js";
export type { MigrationsOptions } from "./options.js";
export type {
  DefineOptions,
  RunArgs,
  MigrationArgs,
  MigrationResult,
  MigrationFunctionReference,
  MigrationFunctionHandle,
  RunMutationCtx,
  RunQueryCtx,
} from "./migrations.js";
export { migrationArgs, isNewFormatCursor, getFunctionMetadata, getTransactionMetrics } from "./peerSurface.js";
export type { TransactionMetric, TransactionMetrics } from "./peerSurface.js";
export { defineMigration, defineMigrationSet } from "./versioned.js";
export type { MigrationStep, VersionedMigration, MigrationSet, VersionedContext } from "./versioned.js";
export { vMigrationStatus as migrationStatus } from "../../../convex/validators.js";
export type { MigrationStatus } from "../../../convex/validators.js";
export { EngineError } from "../engineLoader.js";
