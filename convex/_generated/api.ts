/* eslint-disable */
/**
 * Generated-style API references for the component's modules.
 * @module
 */
import type * as lib from "../lib.js";
import type * as worker from "../worker.js";
import type * as versioned from "../versioned.js";
import type * as releases from "../releases.js";

import type { ApiFromModules, FilterApi, FunctionReference } from "convex/server";
import { anyApi, componentsGeneric } from "convex/server";

const fullApi: ApiFromModules<{
  lib: typeof lib;
  worker: typeof worker;
  versioned: typeof versioned;
  releases: typeof releases;
}> = anyApi as any;

export const api: FilterApi<typeof fullApi, FunctionReference<any, "public">> = anyApi as any;
export const internal: FilterApi<typeof fullApi, FunctionReference<any, "internal">> = anyApi as any;
export const components = componentsGeneric() as unknown as {};
