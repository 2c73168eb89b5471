// @vitest-environment node
/**
 * The bridge schema module: generated from an exported schema, loaded with
 * `defineSchema`, exported again, it is the schema it was generated from;
 * every validator kind, every index kind and both schema options included.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { afterAll, describe, expect, test } from "vitest";
import { planBridge } from "../../js-shim/src/fullEngine";
import {
  schemaModuleSource,
  strictTableNameTypesOf,
  type ExportedSchema,
} from "../../js-shim/src/cli/schema/bridgeModule";
import { exportSchema } from "../../js-shim/src/client/preflight";
import { REPO_ROOT } from "../../js-shim/src/cli/transport/inProcess";

// Inside the repository so the module's `convex/server` import resolves.
const dir = path.join(REPO_ROOT, ".demo", `bridge-module-${process.pid}`);
fs.mkdirSync(dir, { recursive: true });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let written = 0;
/** Write `source` as a schema module, import it, and return its export. */
async function exportOf(source: string): Promise<ExportedSchema> {
  const file = path.join(dir, `schema${written++}.ts`);
  fs.writeFileSync(file, source);
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { default: { export(): string } };
  return JSON.parse(mod.default.export()) as ExportedSchema;
}

const everyKind = defineSchema(
  {
    users: defineTable({
      name: v.string(),
      age: v.number(),
      balance: v.int64(),
      active: v.boolean(),
      deletedAt: v.null(),
      avatar: v.optional(v.bytes()),
      manager: v.optional(v.id("users")),
      role: v.union(v.literal("admin"), v.literal("member")),
      big: v.literal(7n),
      minusZero: v.literal(-0),
      notANumber: v.literal(NaN),
      flag: v.literal(false),
      tags: v.array(v.string()),
      address: v.object({ city: v.string(), geo: v.optional(v.object({ lat: v.number(), "lng value": v.number() })) }),
      meta: v.record(v.string(), v.any()),
      friends: v.record(v.id("users"), v.boolean()),
      stamp: v.optional(v.commitTs()),
      embedding: v.array(v.float64()),
    })
      .index("by_name", ["name"])
      .index("by_role_age", ["role", "age"])
      .index("by_city", { fields: ["address.city"], staged: true })
      .searchIndex("search_name", { searchField: "name", filterFields: ["role"] })
      .searchIndex("search_staged", { searchField: "name", staged: true })
      .vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 8, filterFields: ["role"] }),
    events: defineTable(
      v.union(
        v.object({ kind: v.literal("click"), x: v.number(), y: v.number() }),
        v.object({ kind: v.literal("key"), key: v.string(), mods: v.optional(v.array(v.string())) }),
      ),
    ),
    blobs: defineTable(v.any()),
    empty: defineTable({}),
  },
  { schemaValidation: false, strictTableNameTypes: false },
);

describe("bridge schema module", () => {
  test("round trip: generate from a schema, load it with defineSchema, export it, compare", async () => {
    const exported = JSON.parse(exportSchema(everyKind)) as ExportedSchema;
    const source = schemaModuleSource(exported, { header: "test", strictTableNameTypes: false });
    expect(await exportOf(source)).toEqual(exported);
    expect(source).toContain("strictTableNameTypes: false");
    expect(source).toContain("v.literal(7n)");
    expect(source).toContain("v.literal(-0)");
    expect(source.split("\n")[0]).toBe("// test");
  });

  test("the engine's bridge of a schema with itself generates that schema", async () => {
    const plain = defineSchema({
      todos: defineTable({ text: v.string(), priority: v.optional(v.union(v.literal("low"), v.literal("high"))) })
        .index("by_text", ["text"])
        .searchIndex("s", { searchField: "text", filterFields: ["priority"] }),
    });
    const exported = exportSchema(plain);
    const plan = planBridge({ deployed: exported, target: exported });
    expect(plan.mode).toBe("direct");
    expect(await exportOf(schemaModuleSource(plan.bridge as ExportedSchema))).toEqual(JSON.parse(exported));
  });

  test("a bridge module loads and widens both sides", async () => {
    const deployed = exportSchema(
      defineSchema({
        todos: defineTable({
          text: v.string(),
          priority: v.union(v.literal("low"), v.literal("medium"), v.literal("high")),
        }),
        legacy: defineTable({ note: v.string() }).index("by_note", ["note"]),
      }),
    );
    const target = exportSchema(
      defineSchema({
        todos: defineTable({ title: v.string(), priority: v.union(v.literal("low"), v.literal("high")) }),
      }),
    );
    const plan = planBridge({ deployed, target });
    expect(plan.mode).toBe("bridge");
    const loaded = await exportOf(schemaModuleSource(plan.bridge as ExportedSchema));
    expect(loaded).toEqual(plan.bridge);
    expect(loaded.tables.map((t) => t.tableName)).toEqual(["todos", "legacy"]);
    expect(loaded.tables[1]?.documentType).toEqual({ type: "any" });
  });

  test("strictTableNameTypes is read from the schema's source", () => {
    expect(strictTableNameTypesOf("defineSchema({}, { strictTableNameTypes: false })")).toBe(false);
    expect(strictTableNameTypesOf("defineSchema({}, {strictTableNameTypes:true})")).toBe(true);
    expect(strictTableNameTypesOf("defineSchema({})")).toBeUndefined();
  });

  test("a literal it cannot write is refused, naming it", () => {
    const bad = {
      tables: [{ tableName: "t", documentType: { type: "literal", value: [1] } }],
    } as unknown as ExportedSchema;
    expect(() => schemaModuleSource(bad)).toThrow(/literal must be a string, number, boolean or bigint/);
  });
});
