/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as counting from "../counting.js";
import type * as dropIn from "../dropIn.js";
import type * as faults from "../faults.js";
import type * as functions from "../functions.js";
import type * as migrate from "../migrate.js";
import type * as migrateRaw from "../migrateRaw.js";
import type * as migrations_20261101_090000_backfill_todo_done from "../migrations/20261101_090000_backfill_todo_done.js";
import type * as migrations_20261102_090000_rename_user_name from "../migrations/20261102_090000_rename_user_name.js";
import type * as migrations_20261103_090000_narrow_todo_priority from "../migrations/20261103_090000_narrow_todo_priority.js";
import type * as migrations_20261104_090000_copy_notes_to_notes_v2 from "../migrations/20261104_090000_copy_notes_to_notes_v2.js";
import type * as migrations_20261105_090000_backup_and_delete_sessions from "../migrations/20261105_090000_backup_and_delete_sessions.js";
import type * as migrations_20261106_090000_flag_stale_open_todos from "../migrations/20261106_090000_flag_stale_open_todos.js";
import type * as migrations_manifest from "../migrations/manifest.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  counting: typeof counting;
  dropIn: typeof dropIn;
  faults: typeof faults;
  functions: typeof functions;
  migrate: typeof migrate;
  migrateRaw: typeof migrateRaw;
  "migrations/20261101_090000_backfill_todo_done": typeof migrations_20261101_090000_backfill_todo_done;
  "migrations/20261102_090000_rename_user_name": typeof migrations_20261102_090000_rename_user_name;
  "migrations/20261103_090000_narrow_todo_priority": typeof migrations_20261103_090000_narrow_todo_priority;
  "migrations/20261104_090000_copy_notes_to_notes_v2": typeof migrations_20261104_090000_copy_notes_to_notes_v2;
  "migrations/20261105_090000_backup_and_delete_sessions": typeof migrations_20261105_090000_backup_and_delete_sessions;
  "migrations/20261106_090000_flag_stale_open_todos": typeof migrations_20261106_090000_flag_stale_open_todos;
  "migrations/manifest": typeof migrations_manifest;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

import type { ComponentApi as migrationsComponentApi } from "convex-migrate/_generated/component.js";
/** The mounted components (added by scripts/codegen-offline.sh). */
export declare const components: {
  migrations: migrationsComponentApi<"migrations">;
};
