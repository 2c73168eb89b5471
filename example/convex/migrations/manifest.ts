// Written by `convex-migrate create`: every migration in this folder, in id order.
import { defineMigrationSet } from "convex-migrate";
import type { DataModel } from "../_generated/dataModel.js";
import { migration as m20261101_090000_backfill_todo_done } from "./20261101_090000_backfill_todo_done.js";
import { migration as m20261102_090000_rename_user_name } from "./20261102_090000_rename_user_name.js";
import { migration as m20261103_090000_narrow_todo_priority } from "./20261103_090000_narrow_todo_priority.js";
import { migration as m20261104_090000_copy_notes_to_notes_v2 } from "./20261104_090000_copy_notes_to_notes_v2.js";
import { migration as m20261105_090000_backup_and_delete_sessions } from "./20261105_090000_backup_and_delete_sessions.js";
import { migration as m20261106_090000_flag_stale_open_todos } from "./20261106_090000_flag_stale_open_todos.js";

export const manifest = defineMigrationSet<DataModel>([
  m20261101_090000_backfill_todo_done,
  m20261102_090000_rename_user_name,
  m20261103_090000_narrow_todo_priority,
  m20261104_090000_copy_notes_to_notes_v2,
  m20261105_090000_backup_and_delete_sessions,
  m20261106_090000_flag_stale_open_todos,
]);
