/** The functions the convex-migrate CLI calls (`npx convex-migrate up`). */
import { Migrations } from "convex-migrate";
import { components } from "./_generated/api.js";
import type { DataModel } from "./_generated/dataModel.js";
import { internalMutation } from "./functions.js";
import { manifest } from "./migrations/manifest.js";
import schema from "./schema.js";

export const migrations = new Migrations<DataModel>(components.migrations, { internalMutation, schema });

export const { start, status, cancel, batch, batchRaw, repair, checkSchema, deployedSchema, recordDeploy } =
  migrations.versioned(manifest);
