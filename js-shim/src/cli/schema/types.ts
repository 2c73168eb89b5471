/**
 * What the schema commands need from the CLI: the deployment (the CLI's
 * transport: `npx convex run` or in-process) and where the app's functions are.
 */
import type { Transport } from "../transport/types.js";

/** Options every schema command takes. */
export type SchemaCommandContext = {
  transport: Pick<Transport, "run">;
  /** The app module exporting `checkSchema`, `deployedSchema`, `status`, `start` (e.g. `migrate`). */
  functionsModule: string;
  /** Where relative paths resolve (the project root). */
  cwd?: string;
};
