import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { components, internal } from "../example/convex/_generated/api";
import { deployment, drain, seedTodos, todos } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("drop-in runner", () => {
  test("a migration runs to completion and migrates each document exactly once", async () => {
    const t = deployment();
    await seedTodos(t, 250);
    await t.mutation(internal.counting.run, { fn: "counting:countTodos" });
    await drain(t);
    const docs = await todos(t);
    expect(docs.map((d) => d.counter)).toEqual(Array(250).fill(1));
    const [status] = await t.run(async (ctx) =>
      ctx.runQuery(components.migrations.lib.getStatus, { names: ["counting:countTodos"] }),
    );
    expect(status).toMatchObject({ name: "counting:countTodos", state: "success", isDone: true, processed: 250 });
  });
});
