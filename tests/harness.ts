/** A convex-test deployment of the example app with the component mounted. */
import { convexTest } from "convex-test";
import { register } from "convex-migrate/test";
import { vi } from "vitest";
import schema from "../example/convex/schema";

export const modules = import.meta.glob(["../example/convex/**/*.ts", "!../example/convex/**/*.test.ts"]);

/** A fresh deployment; pass limits to enforce Convex's transaction limits (or tighter ones). */
export function deployment(transactionLimits?: Record<string, number> | true) {
  const t = convexTest({ schema, modules, ...(transactionLimits ? { transactionLimits } : {}) });
  register(t);
  return t;
}

export type Deployment = ReturnType<typeof deployment>;

/** Run every scheduled batch until the chains end. */
export async function drain(t: Deployment) {
  await t.finishAllScheduledFunctions(vi.runAllTimers, 10_000);
}

/** Insert `n` todos with the given fields. */
export async function seedTodos(t: Deployment, n: number, fields: (i: number) => Record<string, unknown> = () => ({})) {
  await t.run(async (ctx) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("todos", { text: `todo ${i}`, ...fields(i) } as never);
  });
}

export async function todos(t: Deployment) {
  return await t.run(async (ctx) => await ctx.db.query("todos").collect());
}

/** The versioned tests' app data: 30 todos (10 done, priorities in mixed spellings), 3 users, 5 notes, 4 sessions. */
export async function seedExampleApp(t: Deployment) {
  await t.run(async (ctx) => {
    for (let i = 0; i < 30; i++) {
      await ctx.db.insert("todos", {
        text: `todo ${i}`,
        ...(i % 3 === 0 ? { done: true } : {}),
        priority: ["low", "HIGH", "urgent!", "medium"][i % 4],
      });
    }
    for (const name of ["Ada", "Grace", "Linus"]) await ctx.db.insert("users", { name });
    for (let i = 0; i < 5; i++) await ctx.db.insert("notes", { body: `note ${i}` });
    for (let i = 0; i < 4; i++) await ctx.db.insert("sessions", { token: `t${i}`, expiresAt: i });
  });
}
