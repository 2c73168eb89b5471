/**
 * The full engine: manifest, checksums, plan and drift, repair, schema diff,
 * validators. Its Wasm module (the default `full` feature of
 * crates/engine-wasm) is several times the batch path's, so only callers off
 * the batch path import this file: versioned start and status, the schema
 * checks, the CLI. It re-exports ./engine.ts and ./appEngine.ts, so such a caller has one import.
 */
import * as wasm from "../wasm/engine-full.js";
import { ENGINE_FULL_WASM_BASE64 } from "../wasm/engine-full-bytes.js";
import { invoke, lazyModule } from "./engineLoader.js";
import type { BridgePlan } from "./engine-types/BridgePlan.js";
import type { BuildManifestRequest } from "./engine-types/BuildManifestRequest.js";
import type { ChecksumResult } from "./engine-types/ChecksumResult.js";
import type { DiffSchemasRequest } from "./engine-types/DiffSchemasRequest.js";
import type { Estimate } from "./engine-types/Estimate.js";
import type { ManifestEntry } from "./engine-types/ManifestEntry.js";
import type { MigrationDef } from "./engine-types/MigrationDef.js";
import type { NewRunRequest } from "./engine-types/NewRunRequest.js";
import type { PageCheckRequest } from "./engine-types/PageCheckRequest.js";
import type { PageCheckResult } from "./engine-types/PageCheckResult.js";
import type { PageIdQuestions } from "./engine-types/PageIdQuestions.js";
import type { PlanBridgeRequest } from "./engine-types/PlanBridgeRequest.js";
import type { RepairDecision } from "./engine-types/RepairDecision.js";
import type { RepairRequest } from "./engine-types/RepairRequest.js";
import type { RunEstimateRequest } from "./engine-types/RunEstimateRequest.js";
import type { RunState } from "./engine-types/RunState.js";
import type { SchemaDiff } from "./engine-types/SchemaDiff.js";
import type { StartDecision } from "./engine-types/StartDecision.js";
import type { StartRequest } from "./engine-types/StartRequest.js";
import type { StatusReport } from "./engine-types/StatusReport.js";
import type { StatusReportRequest } from "./engine-types/StatusReportRequest.js";

export * from "./engine.js";
export * from "./appEngine.js";

const engine = lazyModule(wasm, ENGINE_FULL_WASM_BASE64);

/** A migration's `sha256:<hex>` checksum, its form and the canonical text hashed. */
export const checksum = (def: MigrationDef): ChecksumResult => invoke(engine().checksum, def);
/** Validate a migration set and compute every checksum. */
export const buildManifest = (req: BuildManifestRequest): ManifestEntry[] =>
  invoke(engine().buildManifest, req);
/** Decide what a versioned `start` does: drift, plan and status. */
export const decideStart = (req: StartRequest): StartDecision => invoke(engine().decideStart, req);
/** Every migration's state, the pending ids and drift. */
export const decideRepair = (req: RepairRequest): RepairDecision => invoke(engine().decideRepair, req);

export const statusReport = (req: StatusReportRequest): StatusReport =>
  invoke(engine().statusReport, req);
/** A new run over the planned migrations. */
export const newRun = (req: NewRunRequest): RunState => invoke(engine().newRun, req);
/** Fraction done and time left across a versioned run's migrations. */
export const runEstimate = (req: RunEstimateRequest): Estimate => invoke(engine().runEstimate, req);
/** Check a page of documents against an exported schema. */
export const checkPage = (req: PageCheckRequest): PageCheckResult => invoke(engine().checkPage, req);
/** The strings in a page to look up with `normalizeId` before `checkPage`. */
export const pageIdQuestions = (req: PageCheckRequest): PageIdQuestions =>
  invoke(engine().pageIdQuestions, req);
/** Classify every change between two exported schemas. */
export const diffSchemas = (req: DiffSchemasRequest): SchemaDiff => invoke(engine().diffSchemas, req);
/** Plan a roll-forward from the deployed schema to a target: direct, or through a bridge schema. */
export const planBridge = (req: PlanBridgeRequest): BridgePlan => invoke(engine().planBridge, req);
