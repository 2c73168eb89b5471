/**
 * An in-memory Convex deployment of an app folder, made with convex-test,
 * so the CLI's commands run end to end without a backend (none can run on
 * these machines): the demo and the CLI's tests use it.
 *
 * `deploy` imitates `npx convex deploy`: it snapshots the app's functions
 * folder and later calls load the snapshot's code. The snapshot gets a fresh
 * folder because JavaScript caches modules by path; data stays in the
 * deployment. Functions are looked up among the files of the first deploy
 * (migration files are reached through the manifest, so new ones are fine).
 *
 * Uses real timers: scheduled batches run by themselves, and the CLI's wait
 * loop reads `status` as it would over `npx convex run`.
 *
 * With `validatePushes`, a deploy is judged the way Convex judges a push:
 * every stored document of every table the pushed schema lists is checked
 * against it with the engine's checker, and a violation refuses the push
 * (the deployment keeps its code).
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { convexTest } from "convex-test";
import type { GenericMutationCtx, GenericDataModel } from "convex/server";
import { convexToJson, type Value } from "convex/values";
import { checkDocuments, exportSchema, type AnySchema } from "../../client/preflight.js";
import { functionsDir } from "../config.js";
import { PACKAGE } from "../packageRoot.js";
import { schemaTables } from "../schema/load.js";
import { TransportError, type FunctionKind, type Transport } from "./types.js";

/**
 * The package's root: the repository, or the installed package folder. Both
 * hold the component's sources (convex/) and the example app (example/convex).
 */
export const REPO_ROOT = PACKAGE.dir;

type Loaders = Record<string, () => Promise<unknown>>;
type TestConvex = ReturnType<typeof convexTest>;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(p) : [p];
  });
}

/** Module files convex-test may load: sources, not declarations or tests. */
function moduleFiles(dir: string): string[] {
  return filesUnder(dir)
    .map((f) => path.relative(dir, f).split(path.sep).join("/"))
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith(".d.ts") && !/\.test\.[tj]s$/.test(f))
    .sort();
}

const load = (file: string) => import(/* @vite-ignore */ pathToFileURL(file).href);

/** Copy `example/` (its `convex/` folder) to `dest`, a folder inside the repository. */
export function copyExampleProject(dest: string): string {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  fs.cpSync(path.join(REPO_ROOT, "example", "convex"), path.join(dest, "convex"), { recursive: true });
  return dest;
}

export class InProcessDeployment implements Transport {
  private deploys = 0;
  private current = "";

  private constructor(
    private readonly projectDir: string,
    private readonly snapshotsDir: string,
    private t: TestConvex | undefined,
    private readonly validatePushes = false,
  ) {}

  /**
   * Deploy `projectDir` (an app root holding `convex/`) to a new in-memory
   * deployment. Keep `projectDir` inside the repository: its imports of
   * `convex`, `convex-test` and `convex-migrate` resolve from there.
   */
  static async create(projectDir: string, options: { validatePushes?: boolean } = {}): Promise<InProcessDeployment> {
    const deployment = new InProcessDeployment(
      projectDir,
      path.join(projectDir, ".deploys"),
      undefined,
      options.validatePushes ?? false,
    );
    fs.rmSync(deployment.snapshotsDir, { recursive: true, force: true });
    await deployment.deploy([]);
    const appDir = deployment.current;
    const loaders: Loaders = {};
    // Keys name the first deploy's files; each loader reads the current deploy.
    for (const rel of moduleFiles(appDir)) loaders[`app/${rel}`] = () => load(path.join(deployment.current, rel));
    const schema = ((await load(path.join(appDir, "schema.ts"))) as { default: never }).default;
    const t = convexTest(schema, loaders as never);
    const componentDir = path.join(REPO_ROOT, "convex");
    const componentLoaders: Loaders = {};
    for (const rel of moduleFiles(componentDir)) {
      componentLoaders[`migrations/${rel}`] = () => load(path.join(componentDir, rel));
    }
    const componentSchema = ((await load(path.join(componentDir, "schema.ts"))) as { default: never }).default;
    t.registerComponent("migrations", componentSchema, componentLoaders as never);
    deployment.t = t;
    return deployment;
  }

  /** Snapshot the project's functions folder; later calls run that code. */
  async deploy(_args: string[]): Promise<void> {
    this.deploys += 1;
    const source = path.join(this.projectDir, functionsDir(this.projectDir));
    const target = path.join(this.snapshotsDir, String(this.deploys), "convex");
    fs.cpSync(source, target, { recursive: true });
    if (this.validatePushes && this.t) await this.refuseRejected(target);
    this.current = target;
  }

  /** Throw, as a refused push does, when a stored document fails the schema in `dir`. */
  private async refuseRejected(dir: string): Promise<void> {
    const schema = ((await load(path.join(dir, "schema.ts"))) as { default: AnySchema }).default;
    const exported = exportSchema(schema);
    if ((JSON.parse(exported) as { schemaValidation?: boolean }).schemaValidation === false) return;
    for (const table of schemaTables(exported)) {
      const result = await this.inDatabase(async (ctx) =>
        checkDocuments(ctx.db, {
          schema: exported,
          table,
          documents: (await ctx.db.query(table).collect()).map((d) => convexToJson(d as Value)),
          maxSamples: 1,
        }),
      );
      const [sample] = result.samples;
      const [reason] = sample?.violations ?? [];
      if (sample && reason) {
        throw new TransportError(
          `Schema validation failed: ${result.violating} documents of table "${table}" do not match the pushed schema ` +
            `(${sample.id}: ${reason.path || "(document)"} expected ${reason.expected}, found ${reason.found}). The push was refused.`,
        );
      }
    }
  }

  async run(fn: string, args: Record<string, unknown>, kind: FunctionKind): Promise<unknown> {
    // convex-test takes function names as strings, like `npx convex run`.
    const t = this.deployment() as unknown as Record<FunctionKind, (fn: string, args: unknown) => Promise<unknown>>;
    try {
      return await t[kind](fn, args);
    } catch (error) {
      throw toTransportError(error);
    }
  }

  /** Run code against the app's database in one transaction (seeding data, checking it). */
  async inDatabase<T>(fn: (ctx: GenericMutationCtx<GenericDataModel>) => Promise<T>): Promise<T> {
    return (await this.deployment().run(fn as never)) as T;
  }

  private deployment(): TestConvex {
    if (!this.t) throw new Error("The in-process deployment is not ready yet.");
    return this.t;
  }
}

/** A ConvexError keeps its payload (e.g. an engine refusal's code and hint). */
function toTransportError(error: unknown): TransportError {
  const e = error as { message?: unknown; data?: unknown };
  let data = e?.data;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      // A plain string payload: keep it as the message.
    }
  }
  const message =
    typeof (data as { message?: unknown } | undefined)?.message === "string"
      ? (data as { message: string }).message
      : typeof data === "string"
        ? data
        : String(e?.message ?? error);
  return new TransportError(message, data);
}
