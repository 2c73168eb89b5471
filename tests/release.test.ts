/**
 * Release bookkeeping a user can read back: `convex-migrate --version`, and
 * the convex-migrate version each versioned run's release record stores and
 * `status --json` reports, including runs stored before the record held it.
 */
import fs from "node:fs";
import { convexTest } from "convex-test";
import { componentsGeneric, mutationGeneric } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import componentSchema from "../convex/schema";
import { CONVEX_MIGRATE_VERSION } from "../convex/version";
import schema from "../example/convex/schema";
import { loadDemo } from "../js-shim/src/cli/commands/demoLoader";
import type { Transport } from "../js-shim/src/cli/transport/types";
import type { StatusReport } from "../js-shim/src/cli/types";
import { cli } from "./cli/helpers";
import { drain, modules, seedExampleApp } from "./harness";

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

/**
 * The component as deployed, plus one module that rewrites stored runs into
 * the shape an earlier convex-migrate stored: a release record without the
 * version. Its writes are checked against the component's schema, as a push
 * of the new component over the old rows would check them.
 */
const componentModules = {
  ...import.meta.glob(["../convex/**/*.ts", "!../convex/**/*.test.ts"]),
  "../convex/oldState.ts": async () => ({
    storeRunsWithoutVersion: mutationGeneric({
      args: {},
      handler: async (ctx) => {
        for (const run of await ctx.db.query("runs").collect()) {
          const { convexMigrateVersion: _dropped, ...release } = run.release as Record<string, unknown>;
          await ctx.db.patch(run._id, { release });
        }
      },
    }),
  }),
};

function deployment() {
  const t = convexTest(schema, modules);
  t.registerComponent("migrations", componentSchema, componentModules);
  return t;
}

/** The CLI against the convex-test deployment, by function name as `npx convex run` calls it. */
const transportOf = (t: ReturnType<typeof deployment>): Transport => {
  // convex-test, like `npx convex run`, takes function names as strings.
  const byName = t as unknown as Record<"query" | "mutation", (fn: string, args: unknown) => Promise<unknown>>;
  return { run: (fn, args, kind) => byName[kind](fn, args), deploy: async () => {} };
};

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("versions", () => {
  test("convex-migrate --version prints the package's version", async () => {
    const r = await cli(["--version"], { cwd: process.cwd() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${PACKAGE_VERSION}\n`);
  });

  test("the component's version constant is package.json's version", () => {
    expect(CONVEX_MIGRATE_VERSION).toBe(PACKAGE_VERSION);
  });

  test("each run's release record stores the convex-migrate version that ran it; status --json reports it", async () => {
    const t = deployment();
    await seedExampleApp(t);
    const transport = transportOf(t);
    const up = await cli(["up", "--no-wait", "--env", "staging", "--json"], { cwd: process.cwd(), transport });
    expect(up.code).toBe(0);
    await drain(t);

    const r = await cli(["status", "--json"], { cwd: process.cwd(), transport });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.recentRuns[0]?.release).toMatchObject({ environment: "staging", convexMigrateVersion: PACKAGE_VERSION });

    const human = await cli(["status"], { cwd: process.cwd(), transport });
    expect(human.stdout).toContain(`convex-migrate ${PACKAGE_VERSION}`);
  });

  test("a run stored without the version (as before the record held it) still reads; status reports no version for it", async () => {
    const t = deployment();
    await seedExampleApp(t);
    const transport = transportOf(t);
    expect((await cli(["up", "--no-wait", "--env", "staging"], { cwd: process.cwd(), transport })).code).toBe(0);
    await drain(t);
    await t.run(async (ctx) => {
      const oldState = componentsGeneric() as unknown as {
        migrations: { oldState: { storeRunsWithoutVersion: Parameters<typeof ctx.runMutation>[0] } };
      };
      await ctx.runMutation(oldState.migrations.oldState.storeRunsWithoutVersion, {});
    });

    const r = await cli(["status", "--json"], { cwd: process.cwd(), transport });
    expect(r.code).toBe(0);
    const run = (JSON.parse(r.stdout) as StatusReport).recentRuns[0];
    expect(run?.status).toBe("succeeded");
    expect(run?.release).toEqual({ environment: "staging" });
    expect((await cli(["status"], { cwd: process.cwd(), transport })).stdout).not.toContain("convex-migrate ");
  });
});

describe("demo from the installed package", () => {
  /** The error Node throws when a bare import does not resolve. */
  const notFound = (pkg: string) =>
    Object.assign(new Error(`Cannot find package '${pkg}' imported from /app/node_modules/convex-migrate/dist/x.js`), {
      code: "ERR_MODULE_NOT_FOUND",
    });

  test.each(["convex-test", "tsx"])("without %s the demo is a configuration error that gives the install line", async (pkg) => {
    const importer = async (specifier: string) => {
      if (specifier.startsWith(pkg)) throw notFound(pkg);
      if (specifier.startsWith("tsx")) return { register: () => undefined };
      throw notFound("convex-test");
    };
    const error = await loadDemo(importer, true).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 2, message: `The demo needs ${pkg}, which is not installed here.` });
    expect((error as { hint: string }).hint).toContain('npm install --save-dev convex-test@">=0.0.60" tsx@"^4.23.15"');
  });

  test("compiled, it registers the TypeScript loader before importing the demo", async () => {
    const order: string[] = [];
    const importer = async (specifier: string) => {
      order.push(specifier.startsWith("tsx") ? specifier : "demo");
      return specifier.startsWith("tsx") ? { register: () => order.push("register") } : { demo: () => 0 };
    };
    await loadDemo(importer, true);
    expect(order).toEqual(["tsx/esm/api", "register", "demo"]);
    order.length = 0;
    await loadDemo(importer, false);
    expect(order).toEqual(["demo"]);
  });
});
