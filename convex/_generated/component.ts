/* eslint-disable */
/**
 * The component's API as its parent app sees it: every public function of
 * the component, with the visibility `internal` (no client can call it).
 * Derived from the modules' own types, so it cannot drift from them.
 * @module
 */
import type { FunctionReference } from "convex/server";
import type { api } from "./api.js";

type AsComponent<T, Name extends string | undefined> = {
  [K in keyof T]: T[K] extends FunctionReference<infer Type, any, infer Args, infer Returns>
    ? FunctionReference<Type, "internal", Args, Returns, Name>
    : AsComponent<T[K], Name>;
};

/**
 * A reference to the mounted component, e.g. `components.migrations`.
 */
export type ComponentApi<Name extends string | undefined = string | undefined> = AsComponent<
  typeof api,
  Name
>;
