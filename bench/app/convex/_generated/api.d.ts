/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as bench from "../bench.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  bench: typeof bench;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

import type { ComponentApi as migrationsComponentApi } from "convex-migrate/_generated/component.js";
import type { ComponentApi as peerMigrationsComponentApi } from "@convex-dev/migrations/_generated/component.js";
/** The mounted components (added by scripts/codegen-offline.sh). */
export declare const components: {
  migrations: migrationsComponentApi<"migrations">;
  peerMigrations: peerMigrationsComponentApi<"peerMigrations">;
};
