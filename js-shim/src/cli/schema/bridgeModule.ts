/**
 * A schema module (`convex/schema.ts` source) written from an exported
 * schema, the shape `defineSchema(...).export()` gives and the engine's
 * bridge plan returns. `deploy --bridge` puts it in place of the user's
 * schema file for one push.
 *
 * Loading the module with `defineSchema` and exporting it again gives back
 * the schema it was written from (tests/cli/bridge-module.test.ts).
 */

/** A validator as Convex exports it (`Validator.json`). */
type ValidatorJson =
  | { type: "string" | "number" | "float64" | "bigint" | "int64" | "boolean" | "null" | "bytes" | "any" | "commitTs" }
  | { type: "id"; tableName: string }
  | { type: "literal"; value: unknown }
  | { type: "array"; value: ValidatorJson }
  | { type: "object"; value: Record<string, FieldJson> }
  | { type: "record"; keys: ValidatorJson; values: FieldJson }
  | { type: "union"; value: ValidatorJson[] };

type FieldJson = { fieldType: ValidatorJson; optional?: boolean };

type IndexJson = { indexDescriptor: string; fields: string[] };
type SearchIndexJson = { indexDescriptor: string; searchField: string; filterFields?: string[] };
type VectorIndexJson = { indexDescriptor: string; vectorField: string; dimensions: number; filterFields?: string[] };

type TableJson = {
  tableName: string;
  documentType?: ValidatorJson | null;
  indexes?: IndexJson[];
  stagedDbIndexes?: IndexJson[];
  searchIndexes?: SearchIndexJson[];
  stagedSearchIndexes?: SearchIndexJson[];
  vectorIndexes?: VectorIndexJson[];
  stagedVectorIndexes?: VectorIndexJson[];
};

/** The exported schema (the parsed form of `schema.export()`). */
export type ExportedSchema = { tables: TableJson[]; schemaValidation?: boolean };

export type SchemaModuleOptions = {
  /** One line saying why the file exists, written as its first comment. */
  header?: string;
  /**
   * `defineSchema`'s `strictTableNameTypes`. It is a type-level option and
   * not part of the export, so the caller reads it from the user's file.
   */
  strictTableNameTypes?: boolean;
};

const q = (s: string) => JSON.stringify(s);

/** `convexToJson` payloads: 8 bytes of little-endian base64. */
function eightBytes(b64: string): Buffer {
  const bytes = Buffer.from(b64, "base64");
  if (bytes.length !== 8) throw new Error(`Expected 8 bytes of base64, got ${JSON.stringify(b64)}.`);
  return bytes;
}

function numberSource(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (Object.is(n, -0)) return "-0";
  return String(n);
}

function literalSource(value: unknown): string {
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") return numberSource(value);
  const encoded = value as { $integer?: string; $float?: string } | null;
  if (typeof encoded?.$integer === "string") return `${eightBytes(encoded.$integer).readBigInt64LE()}n`;
  if (typeof encoded?.$float === "string") return numberSource(eightBytes(encoded.$float).readDoubleLE());
  throw new Error(`A literal must be a string, number, boolean or bigint, not ${JSON.stringify(value)}.`);
}

/** Source for one validator, indented for nesting at `depth`. */
export function validatorSource(v: ValidatorJson, depth = 0): string {
  switch (v.type) {
    case "string":
    case "boolean":
    case "null":
    case "bytes":
    case "any":
      return `v.${v.type}()`;
    case "number":
    case "float64":
      return "v.number()";
    case "bigint":
    case "int64":
      return "v.int64()";
    case "commitTs":
      return "v.commitTs()";
    case "id":
      return `v.id(${q(v.tableName)})`;
    case "literal":
      return `v.literal(${literalSource(v.value)})`;
    case "array":
      return `v.array(${validatorSource(v.value, depth)})`;
    case "record":
      return `v.record(${validatorSource(v.keys, depth)}, ${validatorSource(v.values.fieldType, depth)})`;
    case "union":
      return `v.union(${v.value.map((m) => validatorSource(m, depth)).join(", ")})`;
    case "object":
      return `v.object(${fieldsSource(v.value, depth)})`;
  }
}

function fieldsSource(fields: Record<string, FieldJson>, depth: number): string {
  const entries = Object.entries(fields);
  if (entries.length === 0) return "{}";
  const pad = "  ".repeat(depth + 1);
  const lines = entries.map(([name, f]) => {
    const inner = validatorSource(f.fieldType, depth + 1);
    return `${pad}${q(name)}: ${f.optional ? `v.optional(${inner})` : inner},`;
  });
  return `{\n${lines.join("\n")}\n${"  ".repeat(depth)}}`;
}

function list(items: string[] | undefined): string {
  return `[${(items ?? []).map(q).join(", ")}]`;
}

function tableSource(t: TableJson): string {
  const doc = t.documentType ?? { type: "any" as const };
  const chain: string[] = [];
  for (const i of t.indexes ?? []) chain.push(`.index(${q(i.indexDescriptor)}, ${list(i.fields)})`);
  for (const i of t.stagedDbIndexes ?? []) {
    chain.push(`.index(${q(i.indexDescriptor)}, { fields: ${list(i.fields)}, staged: true })`);
  }
  const search = (i: SearchIndexJson, staged: boolean) =>
    `.searchIndex(${q(i.indexDescriptor)}, { searchField: ${q(i.searchField)}, filterFields: ${list(i.filterFields)}${staged ? ", staged: true" : ""} })`;
  for (const i of t.searchIndexes ?? []) chain.push(search(i, false));
  for (const i of t.stagedSearchIndexes ?? []) chain.push(search(i, true));
  const vector = (i: VectorIndexJson, staged: boolean) =>
    `.vectorIndex(${q(i.indexDescriptor)}, { vectorField: ${q(i.vectorField)}, dimensions: ${i.dimensions}, filterFields: ${list(i.filterFields)}${staged ? ", staged: true" : ""} })`;
  for (const i of t.vectorIndexes ?? []) chain.push(vector(i, false));
  for (const i of t.stagedVectorIndexes ?? []) chain.push(vector(i, true));
  const body = validatorSource(doc, 2);
  return `    ${q(t.tableName)}: defineTable(${body})${chain.map((c) => `\n      ${c}`).join("")},`;
}

/**
 * TypeScript source of a `convex/schema.ts` that defines `exported`.
 *
 * @example
 * ```ts
 * const plan = planBridge({ deployed, target });
 * fs.writeFileSync("convex/schema.ts", schemaModuleSource(plan.bridge as ExportedSchema));
 * ```
 */
export function schemaModuleSource(exported: ExportedSchema | string, options: SchemaModuleOptions = {}): string {
  const schema: ExportedSchema = typeof exported === "string" ? (JSON.parse(exported) as ExportedSchema) : exported;
  const opts = [
    ...(schema.schemaValidation === false ? ["schemaValidation: false"] : []),
    ...(options.strictTableNameTypes === false ? ["strictTableNameTypes: false"] : []),
  ];
  const tables = schema.tables.map(tableSource).join("\n");
  return [
    ...(options.header ? [`// ${options.header}`] : []),
    'import { defineSchema, defineTable } from "convex/server";',
    'import { v } from "convex/values";',
    "",
    `export default defineSchema(\n  {\n${tables}\n  }${opts.length ? `,\n  { ${opts.join(", ")} }` : ""},\n);`,
    "",
  ].join("\n");
}

/**
 * Whether a schema file turns `strictTableNameTypes` off. The option only
 * shapes types and is not in the export, so it is read from the source.
 */
export function strictTableNameTypesOf(source: string): boolean | undefined {
  const match = /strictTableNameTypes\s*:\s*(true|false)\b/.exec(source);
  return match ? match[1] === "true" : undefined;
}
