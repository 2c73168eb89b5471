/** What a versioned migrateOne receives, and which writes run triggers. */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { internal } from "../example/convex/_generated/api";
import { deployment, drain } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

test("migrateOne gets migrationId, runId, direction and dryRun; raw steps skip the triggers", async () => {
  const t = deployment();
  await t.run(async (ctx) => {
    for (const name of ["Ada", "Grace"]) await ctx.db.insert("users", { name });
  });
  const usersWrites = async () =>
    (await t.run(async (ctx) => ctx.db.query("writeCounts").collect())).find((c) => c.table === "users")?.count ?? 0;

  const first = await t.mutation(internal.migrateRaw.start, { steps: 1 });
  await drain(t);
  let users = await t.run(async (ctx) => ctx.db.query("users").collect());
  expect(users.map((u) => u.email)).toEqual(
    Array(2).fill(`20261110_090000_stamp_users_with_triggers|up|${first.runId}|false`),
  );
  expect(await usersWrites()).toBe(2); // through internalMutation: the trigger counted both

  const down = await t.mutation(internal.migrateRaw.start, { direction: "down", steps: 1 });
  await drain(t);
  users = await t.run(async (ctx) => ctx.db.query("users").collect());
  expect(users.map((u) => u.email)).toEqual(
    Array(2).fill(`20261110_090000_stamp_users_with_triggers|down|${down.runId}|false`),
  );
  expect(await usersWrites()).toBe(4);

  const again = await t.mutation(internal.migrateRaw.start, {});
  expect(again.plan.map((p) => p.id)).toEqual([
    "20261110_090000_stamp_users_with_triggers",
    "20261111_090000_stamp_users_raw",
  ]);
  await drain(t);
  users = await t.run(async (ctx) => ctx.db.query("users").collect());
  expect(users.map((u) => u.email)).toEqual(Array(2).fill(`20261111_090000_stamp_users_raw|up|${again.runId}|false`));
  // The first step wrote through internalMutation (counted); the raw step did not.
  expect(await usersWrites()).toBe(6);
  const s = await t.query(internal.migrateRaw.status, {});
  expect(s.migrations.map((m) => m.state)).toEqual(["completed", "completed"]);
});
