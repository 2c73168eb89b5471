/**
 * A second versioned set with a raw-write step, to show what `migrateOne`
 * receives and that `writeMode: "raw"` skips the triggers. The CLI would
 * reach it with `functionsModule: "migrateRaw"`.
 */
import { Migrations, defineMigration, defineMigrationSet } from "convex-migrate";
import { components } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import { internalMutation } from "./functions.js";

/** Stamps each user with the context the migration ran in. */
const stamp = (writeMode: "triggers" | "raw") =>
  ({
    table: "users",
    writeMode,
    migrateOne: (ctx: { migrationId: string; runId: string; direction: string; dryRun: boolean }) => ({
      email: [ctx.migrationId, ctx.direction, ctx.runId, String(ctx.dryRun)].join("|"),
    }),
  }) as const;

export const manifest = defineMigrationSet<DataModel>([
  defineMigration<DataModel>({
    id: "20261110_090000_stamp_users_with_triggers",
    description: "stamp users, writes through internalMutation",
    up: stamp("triggers"),
    down: stamp("triggers"),
  }),
  defineMigration<DataModel>({
    id: "20261111_090000_stamp_users_raw",
    description: "stamp users again, raw writes",
    up: stamp("raw"),
  }),
]);

export const migrations = new Migrations<DataModel>(components.migrations, { internalMutation });

export const { start, status, cancel, batch, batchRaw } = migrations.versioned(manifest);
