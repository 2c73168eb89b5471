/**
 * The drop-in client: the same class, options and methods as
 * @convex-dev/migrations, so switching is a change of two import specifiers.
 */
import {
  createFunctionHandle,
  getFunctionAddress,
  getFunctionName,
  internalMutationGeneric,
  makeFunctionReference,
  type FunctionReference,
  type GenericActionCtx,
  type GenericDataModel,
  type GenericMutationCtx,
  type MutationBuilder,
  type RegisteredMutation,
  type SchemaDefinition,
  type GenericSchema,
  type TableNamesInDataModel,
  type DataModelFromSchemaDefinition,
  type FunctionHandle,
} from "convex/server";
import type { ObjectType } from "convex/values";
import type { ComponentApi } from "../../../convex/_generated/component.js";
import { vBatchArgs, type BatchArgs } from "../../../convex/batchContract.js";
import { migrationArgs } from "./peerSurface.js";
import type { MigrationStatus } from "../../../convex/validators.js";
import { describeOrRunBatch, type CustomRange, type MigrateOneFn } from "./batch.js";
import { assertInternal } from "./builder.js";
import { describeOutcome } from "./log.js";
import { startingBatchSize, type MigrationsOptions } from "./options.js";
import { Versioned, type MigrationSet } from "./versioned.js";

/** The arguments every migration function takes (the peer's seven). */
export type MigrationArgs = ObjectType<typeof migrationArgs>;

/** What one batch of a migration function returns. */
export type MigrationResult = { continueCursor: string; isDone: boolean; processed: number };

export type MigrationFunctionReference = FunctionReference<"mutation", "internal", MigrationArgs>;

/** A handle to a migration function, as the component stores it. */
export type MigrationFunctionHandle = FunctionHandle<"mutation", MigrationArgs, MigrationResult>;

/**
 * What `runOne`, `runSerially`, `cancel` and `cancelAll` need of a context:
 * a mutation's and an action's both have it.
 */
export type RunMutationCtx = {
  runMutation: GenericActionCtx<GenericDataModel>["runMutation"];
  runQuery: GenericActionCtx<GenericDataModel>["runQuery"];
};

/** What `getStatus` needs: a query's, a mutation's or an action's context. */
export type RunQueryCtx = { runQuery: GenericActionCtx<GenericDataModel>["runQuery"] };

/**
 * A migration function's return type. One batch answers a
 * `MigrationResult`; a call from the CLI or dashboard answers the status.
 * The peer types it `any`, and code written against it relies on that.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type MigrationFunctionReturn = any;

/** Options of one migration, as `define` takes them. */
export type DefineOptions<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>> = {
  table: TableName;
  migrateOne: MigrateOneFn<DataModel, TableName, GenericMutationCtx<DataModel>>;
  customRange?: CustomRange<DataModel, TableName>;
  /** Documents in the first batch (the engine may grow or shrink it). */
  batchSize?: number;
  /** The largest batch the engine may grow to; equal to batchSize for a fixed size. */
  maxBatchSize?: number;
  /** Run `migrateOne` for a batch's documents concurrently. */
  parallelize?: boolean;
  /**
   * Run with this many workers, each its own chain of batches over a
   * `_creationTime` range: one worker starts alone and, once its batch size
   * stops growing, the rest of the table is split among this many (a table
   * that one worker finishes in about two more batches stays with it).
   */
  workers?: number;
};

/** Arguments a runner takes (the peer's, unchanged). */
export type RunArgs = {
  fn?: string;
  cursor?: string | null;
  batchSize?: number;
  dryRun?: boolean;
  reset?: boolean;
  next?: string[];
};

/**
 * Define and run online migrations.
 *
 * @example
 * ```ts
 * export const migrations = new Migrations<DataModel>(components.migrations);
 * export const setDefault = migrations.define({
 *   table: "todos",
 *   migrateOne: (ctx, doc) => (doc.priority === undefined ? { priority: "medium" } : undefined),
 * });
 * export const run = migrations.runner();
 * ```
 */
export class Migrations<
  DM extends GenericDataModel,
  // Inferred from `options.schema` when no type argument is given.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Schema extends SchemaDefinition<any, boolean> | void = void,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  DataModel extends GenericDataModel = Schema extends SchemaDefinition<any, boolean>
    ? DataModelFromSchemaDefinition<Schema>
    : DM,
> {
  constructor(
    public component: ComponentApi,
    public options?: MigrationsOptions<DataModel, Schema>,
  ) {}

  private get schema(): SchemaDefinition<GenericSchema, boolean> | undefined {
    return (this.options?.schema ?? undefined) as SchemaDefinition<GenericSchema, boolean> | undefined;
  }

  /**
   * Define a migration over one table. Returns an internal mutation: run it
   * with a runner, `runOne`, or `npx convex run` on the function itself.
   *
   * @example
   * ```ts
   * export const clearLegacy = migrations.define({
   *   table: "users",
   *   migrateOne: () => ({ legacyField: undefined }), // removes the field
   * });
   * ```
   */
  define<TableName extends TableNamesInDataModel<DataModel>>(
    opts: DefineOptions<DataModel, TableName>,
  ): RegisteredMutation<"internal", BatchArgs, Promise<MigrationFunctionReturn>> {
    const builder = (this.options?.internalMutation ?? internalMutationGeneric) as MutationBuilder<
      GenericDataModel,
      "internal"
    >;
    const spec = {
      table: opts.table,
      migrateOne: opts.migrateOne as never,
      customRange: opts.customRange as never,
      parallelize: opts.parallelize ?? false,
      ...(this.schema ? { schema: this.schema } : {}),
    };
    const fn = builder({
      args: vBatchArgs,
      handler: async (ctx, args): Promise<unknown> => {
        if (!args.describe && !args.oneBatchOnly) {
          // Called from the CLI or dashboard: start the migration through the component.
          const self = await functionName(ctx);
          if (args.fn && this.prefixedName(args.fn) !== self) {
            throw new Error(
              `This is ${self}, but fn names ${args.fn}. Run the runner for other migrations, or call ${self} directly.`,
            );
          }
          return await this.runInteractive(ctx, args, makeFunctionReference<"mutation">(self));
        }
        return await describeOrRunBatch(ctx, args, {
          spec,
          batchSize: startingBatchSize(opts.batchSize, this.options),
          ...(opts.maxBatchSize !== undefined ? { maxBatchSize: opts.maxBatchSize } : {}),
          workers: opts.workers ?? 1,
          name: () => functionName(ctx),
        });
      },
    });
    return assertInternal(fn) as RegisteredMutation<"internal", BatchArgs, Promise<MigrationFunctionReturn>>;
  }

  /**
   * An internal mutation that starts migrations: generic (`{fn: "migrations:foo"}`),
   * for one migration, or for a series run in order.
   *
   * @example
   * ```ts
   * export const run = migrations.runner();                     // npx convex run migrations:run '{"fn":"migrations:setDefault"}'
   * export const runAll = migrations.runner([internal.migrations.a, internal.migrations.b]);
   * ```
   */
  runner(specific?: MigrationFunctionReference | MigrationFunctionReference[]) {
    return internalMutationGeneric({
      args: vBatchArgs,
      handler: async (ctx, args) => {
        const [first, rest] = Array.isArray(specific) ? [specific[0], specific.slice(1)] : [specific, []];
        if (args.fn && first) {
          throw new Error("This runner is bound to a migration already; leave out fn, or use a generic runner().");
        }
        if (!args.fn && !first) {
          throw new Error(
            `Name the migration to run: '{"fn": "migrations:myMigration"}', or export a runner bound to it: ` +
              "runner(internal.migrations.myMigration).",
          );
        }
        return await this.runInteractive(ctx, args, first, rest);
      },
    });
  }

  private async runInteractive(
    ctx: RunMutationCtx,
    args: RunArgs,
    fnRef?: MigrationFunctionReference | FunctionReference<"mutation">,
    rest: (MigrationFunctionReference | FunctionReference<"mutation">)[] = [],
  ) {
    const name = args.fn ? this.prefixedName(args.fn) : getFunctionName(fnRef!);
    const fnHandle = await handleFor(fnRef ?? makeFunctionReference<"mutation">(name), name);
    const next = await Promise.all([
      ...rest.map(async (r) => ({ name: getFunctionName(r), fnHandle: await createFunctionHandle(r) })),
      ...(args.next ?? []).map(async (n) => {
        const nextName = this.prefixedName(n);
        return { name: nextName, fnHandle: await handleFor(makeFunctionReference<"mutation">(nextName), nextName) };
      }),
    ]);
    // Starting a series attempts each of its migrations in turn, so any one
    // running would conflict with its batches: report it and start nothing.
    const running = args.reset || args.dryRun ? undefined : await this.anyInProgress(ctx, [name, ...next.map((n) => n.name)]);
    if (running) {
      console.log(describeOutcome(running.name, running, args));
      return running;
    }
    const status = await ctx.runMutation(this.component.lib.migrate, {
      name,
      fnHandle,
      ...(args.reset ? { cursor: null } : args.cursor !== undefined ? { cursor: args.cursor } : {}),
      ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
      ...(next.length ? { next } : {}),
      dryRun: args.dryRun ?? false,
      ...(args.reset ? { reset: true } : {}),
    });
    console.log(describeOutcome(name, status, args));
    return status;
  }

  /**
   * Start one migration from server code. Does nothing if it is already running.
   *
   * @example
   * ```ts
   * await migrations.runOne(ctx, internal.migrations.setDefault, { batchSize: 500 });
   * ```
   */
  async runOne(
    ctx: RunMutationCtx,
    fnRef: MigrationFunctionReference,
    opts?: { cursor?: string | null; batchSize?: number; dryRun?: boolean; reset?: boolean },
  ): Promise<MigrationStatus> {
    const running = opts?.reset ? undefined : await this.anyInProgress(ctx, [getFunctionName(fnRef)]);
    if (running) return running;
    return await ctx.runMutation(this.component.lib.migrate, {
      name: getFunctionName(fnRef),
      fnHandle: await createFunctionHandle(fnRef),
      ...(opts?.reset ? { cursor: null, reset: true } : opts?.cursor !== undefined ? { cursor: opts.cursor } : {}),
      ...(opts?.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      dryRun: opts?.dryRun ?? false,
    });
  }

  /**
   * Run migrations one after another; completed ones are skipped. Does
   * nothing, and returns that one's status, if any of them is running.
   *
   * @example
   * ```ts
   * await migrations.runSerially(ctx, [internal.migrations.a, internal.migrations.b]);
   * ```
   */
  async runSerially(ctx: RunMutationCtx, fnRefs: MigrationFunctionReference[]) {
    const [first, ...rest] = fnRefs;
    if (!first) return;
    const running = await this.anyInProgress(ctx, fnRefs.map((r) => getFunctionName(r)));
    if (running) return running;
    const next = await Promise.all(
      rest.map(async (r) => ({ name: getFunctionName(r), fnHandle: await createFunctionHandle(r) })),
    );
    return await ctx.runMutation(this.component.lib.migrate, {
      name: getFunctionName(first),
      fnHandle: await createFunctionHandle(first),
      ...(next.length ? { next } : {}),
      dryRun: false,
    });
  }

  /**
   * Status rows, in the order asked (or the latest `limit` migrations).
   *
   * @example
   * ```ts
   * const [a, b] = await migrations.getStatus(ctx, { migrations: [internal.migrations.a, "b"] });
   * ```
   */
  async getStatus(
    ctx: RunQueryCtx,
    { migrations, limit }: { migrations?: (string | MigrationFunctionReference)[]; limit?: number } = {},
  ): Promise<MigrationStatus[]> {
    const names = migrations?.map((m) => (typeof m === "string" ? this.prefixedName(m) : getFunctionName(m)));
    return await ctx.runQuery(this.component.lib.getStatus, {
      ...(names ? { names } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
  }

  /**
   * Stop a migration between batches; `start` it again to resume.
   *
   * @example
   * ```ts
   * await migrations.cancel(ctx, internal.migrations.setDefault);
   * ```
   */
  async cancel(ctx: RunMutationCtx, migration: string | MigrationFunctionReference): Promise<MigrationStatus> {
    const name = typeof migration === "string" ? this.prefixedName(migration) : getFunctionName(migration);
    return await ctx.runMutation(this.component.lib.cancel, { name });
  }

  /**
   * Stop every migration that is not done.
   *
   * @example
   * ```ts
   * await migrations.cancelAll(ctx);
   * ```
   */
  async cancelAll(ctx: RunMutationCtx): Promise<MigrationStatus[]> {
    return await ctx.runMutation(this.component.lib.cancelAll, {});
  }

  /**
   * Versioned migrations: the `start`, `status`, `cancel` and `batch`
   * functions the CLI calls, over a manifest of `defineMigration`s.
   *
   * @example
   * ```ts
   * export const { start, status, cancel, batch, repair } = migrations.versioned(manifest);
   * ```
   */
  versioned(manifest: MigrationSet<DataModel>) {
    return new Versioned<DataModel>(this.component, manifest, this.options as MigrationsOptions<DataModel>).functions();
  }

  /**
   * The status of the first of `names` whose batches are running, if any. A
   * stalled one (no live hop) is not: starting it again is how it resumes.
   */
  private async anyInProgress(ctx: RunQueryCtx, names: string[]): Promise<MigrationStatus | undefined> {
    const statuses = await ctx.runQuery(this.component.lib.getStatus, { names });
    return statuses.find((s) => s.state === "inProgress" && !s.stalled);
  }

  /** A name with the configured prefix, unless it names a module already. */
  prefixedName(name: string): string {
    const prefix = this.options?.migrationsLocationPrefix;
    return prefix && !name.includes(":") ? `${prefix}${name}` : name;
  }
}

async function handleFor(ref: FunctionReference<"mutation", "public" | "internal">, name: string) {
  try {
    return await createFunctionHandle(ref);
  } catch {
    throw new Error(
      `No function named ${name}. Use the module path and export name, e.g. "migrations:setDefault" ` +
        "(set migrationsLocationPrefix to leave out the module).",
    );
  }
}

async function functionName(ctx: GenericMutationCtx<GenericDataModel>): Promise<string> {
  const meta = await ctx.meta.getFunctionMetadata();
  return meta.name;
}

/**
 * Run a migration to completion inline, one batch per call to the component,
 * e.g. in a test or an action. Takes over from a scheduled run, so no batch
 * is ever processed twice.
 *
 * @example
 * ```ts
 * await t.run((ctx) => runToCompletion(ctx, components.migrations, internal.migrations.setDefault));
 * ```
 */
export async function runToCompletion(
  // The action form of runMutation (no transaction-limit options): a mutation
  // ctx satisfies it too, so tests (`t.run`) and actions can both call this.
  ctx: { runMutation: GenericActionCtx<GenericDataModel>["runMutation"] },
  component: ComponentApi,
  fnRef: MigrationFunctionReference | MigrationFunctionHandle | FunctionReference<"mutation", "internal">,
  opts?: { name?: string; cursor?: string | null; batchSize?: number; dryRun?: boolean },
): Promise<MigrationStatus> {
  const handle = getFunctionAddress(fnRef).functionHandle;
  const name = opts?.name ?? handle ?? getFunctionName(fnRef as FunctionReference<"mutation", "internal">);
  const fnHandle = handle ?? (await createFunctionHandle(fnRef as FunctionReference<"mutation", "internal">));
  let first = true;
  for (;;) {
    const status = await ctx.runMutation(component.lib.migrate, {
      name,
      fnHandle,
      ...(first && opts?.cursor !== undefined ? { cursor: opts.cursor } : {}),
      ...(opts?.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      dryRun: opts?.dryRun ?? false,
      oneBatchOnly: true,
    });
    first = false;
    if (status.isDone || opts?.dryRun) return status;
    if (status.state === "failed" || status.error) throw new Error(status.error ?? `Migration ${name} failed.`);
  }
}
