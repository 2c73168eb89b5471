/// <reference types="vite/client" />
/**
 * Stands in for the peer's setup.test.ts, which globs the peer's own
 * component folder. Here the component is convex-migrate's: its modules,
 * re-keyed under this folder, plus the peer's lib.test.ts beside them, so
 * convex-test resolves `lib:migrate` and `lib.test:doneMigration` alike.
 */
import { modules as component } from "convex-migrate/test";
import { test } from "vitest";

const here = import.meta.glob("./lib.test.ts");

export const modules: Record<string, () => Promise<unknown>> = {
  ...Object.fromEntries(
    Object.entries(component as Record<string, () => Promise<unknown>>).map(([path, load]) => [
      path.replace(/^.*\/convex\//, "./"),
      load,
    ]),
  ),
  ...here,
};

test("the module map holds the component and the peer's test module", ({ expect }) => {
  expect(Object.keys(modules)).toEqual(expect.arrayContaining(["./lib.ts", "./_generated/api.ts", "./lib.test.ts"]));
});
