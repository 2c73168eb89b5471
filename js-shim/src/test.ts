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

/**
 * The component's own schema, module map, API and function builders, for
 * tests that run the component as the app itself (as @convex-dev/migrations'
 * own `lib.test.ts` does): `convexTest(schema, modules)`.
 */
export { schema, modules };
export { api } from "../../convex/_generated/api.js";
export { mutation, query } from "../../convex/_generated/server.js";

export function register(t: TestConvex<SchemaDefinition<GenericSchema, boolean>>, name: string = "migrations") {
  t.registerComponent(name, schema, modules);
}

export default { register, schema, modules };
