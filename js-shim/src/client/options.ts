/**
 * The options of `new Migrations(component, options)`, read by the drop-in
 * client and by versioned migrations alike, and the one rule for the batch
 * size a migration starts with.
 */
import type { GenericDataModel, GenericSchema, MutationBuilder, SchemaDefinition } from "convex/server";
import { DEFAULT_BATCH_SIZE } from "../engine-types/constants.js";

export type MigrationsOptions<
  DataModel extends GenericDataModel,
  Schema extends SchemaDefinition<GenericSchema, boolean> | void = SchemaDefinition<GenericSchema, boolean>,
> = {
  /** Builder for the migration functions, e.g. one that runs triggers. */
  internalMutation?: MutationBuilder<DataModel, "internal">;
  /** Documents per batch when a migration names none (default 100). */
  defaultBatchSize?: number;
  /** Prefix for names passed as strings, e.g. `"migrations:"`. */
  migrationsLocationPrefix?: string;
  /**
   * The app's schema: document types come from it when no type argument is
   * given, and it lets a migration's table be checked before it runs.
   */
  schema?: Schema | SchemaDefinition<GenericSchema, boolean>;
};

/**
 * The batch size a migration starts with: its own, else the constructor's
 * `defaultBatchSize`, else the engine's default. Bad sizes are the engine's
 * to refuse when the migration starts.
 */
export function startingBatchSize(
  own: number | undefined,
  options: Pick<MigrationsOptions<GenericDataModel>, "defaultBatchSize"> | undefined,
): number {
  return own ?? options?.defaultBatchSize ?? DEFAULT_BATCH_SIZE;
}
