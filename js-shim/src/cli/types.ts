/**
 * What the app's `start`, `status` and `cancel` return: the component's
 * functions' return types (their validators are the source of truth).
 */
import type { FunctionReturnType } from "convex/server";
import type { ComponentApi } from "../../../convex/_generated/component.js";

export type StartResult = FunctionReturnType<ComponentApi["versioned"]["start"]>;
export type StatusReport = FunctionReturnType<ComponentApi["versioned"]["status"]>;
export type CancelResult = FunctionReturnType<ComponentApi["versioned"]["cancel"]>;
export type RepairResult = FunctionReturnType<ComponentApi["versioned"]["repair"]>;
export type RunView = StatusReport["recentRuns"][number];
export type RunItemView = RunView["items"][number];
export type DriftFinding = StatusReport["drift"][number];
export type MigrationRow = StatusReport["migrations"][number];
