/// <reference types="vite/client" />
/**
 * Mount the convex-migrate component in a convex-test instance.
 *
 * @example
 * ```ts
 * import { register } from "convex-migrate/test";
 * const t = convexTest(schema, modules);
 * register(t);
 * ```
 */
import type { TestConvex } from "convex-test";
import type { GenericSchema, SchemaDefinition } from "convex/server";
import schema from "../../convex/schema.js";

const modules = import.meta.glob(["../../convex/**/*.ts", "!../../convex/**/*.test.ts"]);

export function register(t: TestConvex<SchemaDefinition<GenericSchema, boolean>>, name: string = "migrations") {
  t.registerComponent(name, schema, modules);
}

export default { register, schema, modules };
