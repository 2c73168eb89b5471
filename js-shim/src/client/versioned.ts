/**
 * Versioned migrations: ids, a manifest, checksums computed by the engine
 * from the deployed code, drift checks, up and down. The app exports four
 * functions from one module (by default `convex/migrate.ts`); the CLI calls
 * them with `npx convex run`.
 */
import {
  createFunctionHandle,
  internalMutationGeneric,
  internalQueryGeneric,
  makeFunctionReference,
  type GenericDataModel,
  type GenericMutationCtx,
  type MutationBuilder,
  type TableNamesInDataModel,
} from "convex/server";
import { ConvexError, v } from "convex/values";
import type { ComponentApi } from "../../../convex/_generated/component.js";
import { CODE_CHANGED, vBatchArgs, type BatchArgs } from "../../../convex/batchContract.js";
import { vDeployRecord, vRelease, vStartOptions } from "../../../convex/validators.js";
import * as engine from "../fullEngine.js";
import type { MigrationDef } from "../engine-types/MigrationDef.js";
import type { Direction } from "../engine-types/Direction.js";
import { assertKnownTable, describeOrRunBatch, type CustomRange, type MigrateOneFn } from "./batch.js";
import { assertInternal } from "./builder.js";
import { VERSIONED_EXPORT_LINE } from "./exportLine.js";
import { startingBatchSize, type MigrationsOptions } from "./options.js";
import { schemaFunctions } from "./preflight.js";

/** What `migrateOne` of a versioned step receives besides the app's context. */
export type VersionedContext = {
  migrationId: string;
  runId: string;
  direction: Direction;
  dryRun: boolean;
};

/** One direction of a versioned migration. */
export type MigrationStep<DataModel extends GenericDataModel, TableName extends TableNamesInDataModel<DataModel>> = {
  table: TableName;
  migrateOne: MigrateOneFn<DataModel, TableName, GenericMutationCtx<DataModel> & VersionedContext>;
  batchSize?: number;
  customRange?: CustomRange<DataModel, TableName>;
  /** Run with this many workers: one ramps alone, then the rest of the table is split among them. */
  workers?: number;
  /** "raw" writes without the constructor's `internalMutation` (no triggers). */
  writeMode?: "triggers" | "raw";
};

/** A step over any one table of the app; `table` decides the document type. */
export type AnyMigrationStep<DataModel extends GenericDataModel> = {
  [T in TableNamesInDataModel<DataModel>]: MigrationStep<DataModel, T>;
}[TableNamesInDataModel<DataModel>];

/** A versioned migration, as `defineMigration` returns it. */
export type VersionedMigration<DataModel extends GenericDataModel> = {
  id: string;
  description: string;
  up: AnyMigrationStep<DataModel>;
  down?: AnyMigrationStep<DataModel>;
};

/** The ordered set of an app's versioned migrations (its manifest). */
export type MigrationSet<DataModel extends GenericDataModel> = {
  migrations: VersionedMigration<DataModel>[];
};

/**
 * Define one versioned migration. The id is `YYYYMMDD_HHMMSS_slug`; use
 * `npx convex-migrate create <name>` to make one.
 *
 * @example
 * ```ts
 * export const migration = defineMigration<DataModel>({
 *   id: "20261122_101500_backfill_priority",
 *   description: "backfill todo priority",
 *   up: { table: "todos", migrateOne: (ctx, doc) => (doc.priority ? undefined : { priority: "medium" }) },
 *   down: { table: "todos", migrateOne: () => ({ priority: undefined }) },
 * });
 * ```
 */
export function defineMigration<DataModel extends GenericDataModel>(
  def: VersionedMigration<DataModel>,
): VersionedMigration<DataModel> {
  return def;
}

/**
 * The manifest: every versioned migration. Written by `convex-migrate
 * create`; the engine runs them in id order however they are listed (a
 * manifest merged from two branches need not be sorted) and refuses
 * duplicate and malformed ids, naming them.
 *
 * @example
 * ```ts
 * export const manifest = defineMigrationSet<DataModel>([m0, m1]);
 * ```
 */
export function defineMigrationSet<DataModel extends GenericDataModel>(
  migrations: VersionedMigration<DataModel>[],
): MigrationSet<DataModel> {
  return { migrations };
}

type AnyStep = MigrationStep<GenericDataModel, string>;

function stepDef(step: AnyStep) {
  return {
    table: step.table,
    ...(step.batchSize !== undefined ? { batchSize: step.batchSize } : {}),
    source: String(step.migrateOne),
    // Which documents the step visits and how it writes change what it does,
    // so the checksum covers them (form v2).
    ...(step.customRange !== undefined ? { customRange: String(step.customRange) } : {}),
    ...(step.writeMode !== undefined ? { writeMode: step.writeMode } : {}),
  };
}

/** The manifest as the engine reads it: ids, descriptions, tables, sources. */
export function manifestDefs(set: MigrationSet<GenericDataModel>): MigrationDef[] {
  return set.migrations.map((m) => ({
    id: m.id,
    description: m.description,
    up: stepDef(m.up as AnyStep),
    ...(m.down ? { down: stepDef(m.down as AnyStep) } : {}),
  }));
}

/**
 * Checksums of the deployed code, by the exact definition hashed. Code
 * cannot change inside one module instance, so each definition is hashed
 * once per instance, not once per batch (a runtime that reuses the instance
 * across batches pays once per run).
 */
const checksums = new Map<string, string>();

function deployedChecksum(def: MigrationDef): string {
  const key = JSON.stringify(def);
  let known = checksums.get(key);
  if (known === undefined) {
    known = engine.checksum(def).checksum;
    checksums.set(key, known);
  }
  return known;
}

/**
 * Refuse a batch when the deployed migration is not the code its run planned
 * with (a redeploy mid-run): one pass never mixes two versions silently.
 */
function assertPlannedCode(defs: MigrationDef[], migrationId: string, planned: string) {
  const def = defs.find((d) => d.id === migrationId);
  const deployed = def ? deployedChecksum(def) : "nothing (the migration was removed)";
  if (deployed === planned) return;
  throw new ConvexError({
    kind: CODE_CHANGED,
    message:
      `Migration ${migrationId} changed since this run started: the run planned ${planned}, the deployed code is ` +
      `${deployed}. The run stopped before migrating any document with the new code. Deploy the original code ` +
      "and start again to resume, or start with --allow-drift to go on with the new code.",
  });
}

/**
 * A raw step runs through the module's `batchRaw` export, which a custom
 * `internalMutation` builder cannot provide from inside `batch`. Ask it to
 * describe the step (it reads, never writes) before anything is stored, so
 * a missing export is refused at `start` with the line to add, not found
 * half-way through a run.
 */
async function assertRawExport(ctx: GenericMutationCtx<GenericDataModel>, module: string | undefined, rawStep: string) {
  const [migrationId, direction] = rawStep.split(":") as [string, Direction];
  try {
    await ctx.runMutation(makeFunctionReference<"mutation">(`${module}:batchRaw`), {
      describe: true,
      versioned: { migrationId, direction, runId: "" },
    });
  } catch (error) {
    if (!/no such export|could(n.t| not) find/i.test(String((error as Error)?.message ?? error))) throw error;
    throw new ConvexError({
      kind: "MISSING_EXPORT",
      message:
        `Migration ${migrationId} has ${direction === "up" ? "an up" : "a down"} step with writeMode: "raw", which runs through the ` +
        `batchRaw function, but ${module}.ts does not export it. Export it with the others: ${VERSIONED_EXPORT_LINE}`,
    });
  }
}

export class Versioned<DataModel extends GenericDataModel> {
  constructor(
    private component: ComponentApi,
    private set: MigrationSet<DataModel>,
    private options?: MigrationsOptions<DataModel>,
  ) {}

  private step(migrationId: string, direction: Direction): AnyStep {
    const m = this.set.migrations.find((x) => x.id === migrationId);
    const step = m?.[direction] as AnyStep | undefined;
    if (!step) {
      throw new Error(
        `The deployed manifest has no ${direction} step for migration ${migrationId}. Deploy the code that defines it.`,
      );
    }
    return step;
  }

  /** Ids of steps that write without triggers, as `<id>:<direction>`. */
  private rawSteps(): string[] {
    return this.set.migrations.flatMap((m) =>
      (["up", "down"] as const)
        .filter((d) => (m[d] as AnyStep | undefined)?.writeMode === "raw")
        .map((d) => `${m.id}:${d}`),
    );
  }

  /**
   * The functions to export from the app's `convex/migrate.ts`: the four a
   * run needs (`start`, `status`, `cancel`, `batch`; plus `batchRaw` when a
   * step has `writeMode: "raw"`), `repair` for `convex-migrate repair`, and
   * the two schema preflight queries (`checkSchema`, `deployedSchema`).
   *
   * @example
   * ```ts
   * export const { start, status, cancel, batch, batchRaw, repair } = migrations.versioned(manifest);
   * ```
   */
  functions() {
    const defs = () => manifestDefs(this.set as unknown as MigrationSet<GenericDataModel>);
    const builder = (this.options?.internalMutation ?? internalMutationGeneric) as MutationBuilder<
      GenericDataModel,
      "internal"
    >;

    const batchHandler = async (ctx: GenericMutationCtx<GenericDataModel>, args: BatchArgs) => {
      const target = args.versioned;
      if (!target) {
        throw new Error("The versioned batch function runs only when a versioned run calls it. Use `start`.");
      }
      const step = this.step(target.migrationId, target.direction);
      const extra: VersionedContext = {
        migrationId: target.migrationId,
        runId: target.runId,
        direction: target.direction,
        dryRun: args.dryRun ?? false,
      };
      return await describeOrRunBatch(ctx, args, {
        spec: {
          table: step.table,
          migrateOne: step.migrateOne as never,
          customRange: step.customRange as never,
          ...(this.options?.schema ? { schema: this.options.schema } : {}),
        },
        batchSize: startingBatchSize(step.batchSize, this.options),
        workers: step.workers ?? 1,
        name: () => target.migrationId,
        extraCtx: extra,
        beforeBatch: () => {
          if (target.checksum) assertPlannedCode(defs(), target.migrationId, target.checksum);
        },
      });
    };

    const start = internalMutationGeneric({
      args: vStartOptions,
      handler: async (ctx, args) => {
        const module = (await ctx.meta.getFunctionMetadata()).name.split(":")[0];
        // Every step's table up front: a bad one found later, between two
        // migrations of a run, would stop the run half-way.
        for (const m of this.set.migrations) {
          for (const step of [m.up, m.down] as (AnyStep | undefined)[]) {
            if (step) assertKnownTable(this.options?.schema, step.table, m.id);
          }
        }
        const rawSteps = this.rawSteps();
        if (rawSteps.length) await assertRawExport(ctx, module, rawSteps[0]!);
        return await ctx.runMutation(this.component.versioned.start, {
          ...args,
          manifest: defs(),
          batchHandle: await createFunctionHandle(makeFunctionReference<"mutation">(`${module}:batch`)),
          ...(rawSteps.length
            ? {
                rawSteps,
                rawBatchHandle: await createFunctionHandle(makeFunctionReference<"mutation">(`${module}:batchRaw`)),
              }
            : {}),
        });
      },
    });

    const status = internalQueryGeneric({
      args: { limit: v.optional(v.number()) },
      handler: async (ctx, args) => {
        const report = await ctx.runQuery(this.component.versioned.status, { manifest: defs(), ...args });
        // The table each migration's up step rewrites, so `convex-migrate plan`
        // can tell whether a pending migration covers a schema change.
        const tables = new Map(this.set.migrations.map((m) => [m.id, String(m.up.table)]));
        return {
          ...report,
          migrations: report.migrations.map((m) => {
            const table = tables.get(m.id);
            return table === undefined ? m : { ...m, table };
          }),
        };
      },
    });

    const cancel = internalMutationGeneric({
      args: { runId: v.optional(v.string()) },
      handler: async (ctx, args) => await ctx.runMutation(this.component.versioned.cancel, args),
    });

    const repair = internalMutationGeneric({
      args: { ids: v.optional(v.array(v.string())), release: v.optional(vRelease) },
      handler: async (ctx, args) => {
        const module = (await ctx.meta.getFunctionMetadata()).name.split(":")[0];
        return await ctx.runMutation(this.component.versioned.repair, {
          ...args,
          manifest: defs(),
          batchHandle: await createFunctionHandle(makeFunctionReference<"mutation">(`${module}:batch`)),
        });
      },
    });

    const recordDeploy = internalMutationGeneric({
      args: { runId: v.string(), deploy: vDeployRecord },
      handler: async (ctx, args) => await ctx.runMutation(this.component.releases.recordDeploy, args),
    });

    return {
      /** Start a run: `{ direction?, steps?, to?, keep?, dryRun?, allowDrift?, strict?, batchSize?, restart?, release? }`. */
      start,
      /** The active run, recent runs with release records, every migration's state, pending ids, drift. */
      status,
      /** Cancel the active run (or `runId`) between batches; `start` resumes it. */
      cancel,
      /**
       * Accept edited (or deleted) applied migrations on the record, touching no data:
       * `{ ids?, release? }`. Refused while a run is active.
       */
      repair,
      /** `deploy --bridge`: put its pushes and its check on the run's release record. */
      recordDeploy,
      /** One batch of a step, called by the component; writes go through `internalMutation`. */
      batch: assertInternal(builder({ args: vBatchArgs, handler: batchHandler })),
      /** The same for steps with `writeMode: "raw"`: writes skip the custom builder. */
      batchRaw: internalMutationGeneric({ args: vBatchArgs, handler: batchHandler }),
      /** `convex-migrate check` / `plan`: one page checked against a schema, and the schema deployed. */
      ...schemaFunctions(this.options?.schema),
    };
  }
}

