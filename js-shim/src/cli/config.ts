/**
 * `convex-migrate.json` at the project root, merged with flags (flags win).
 * An unknown key is an error rather than a silent no-op: a typo such as
 * `"batchsize"` would otherwise run with the default.
 */
import fs from "node:fs";
import path from "node:path";
import { usageError } from "./errors.js";

export const CONFIG_FILE = "convex-migrate.json";

/** How often the wait loop reads `status` when nothing says otherwise. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** How long `up`, `down` and `deploy` wait for a run before giving up (exit 1): 15m. */
export const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export type Config = {
  /** The app module exporting `start`, `status`, `cancel`, `batch` (`convex/<module>.ts`). */
  functionsModule: string;
  /** The folder of migration files and `manifest.ts`, relative to the project root. */
  migrationsDir: string;
  batchSize?: number;
  pollIntervalMs: number;
  timeoutMs: number;
  strict: boolean;
  allowDrift: boolean;
};

const DEFAULTS: Config = {
  functionsModule: "migrate",
  migrationsDir: "convex/migrations",
  pollIntervalMs: DEFAULT_POLL_INTERVAL_MS,
  timeoutMs: DEFAULT_TIMEOUT_MS,
  strict: false,
  allowDrift: false,
};

const KNOWN_KEYS = ["functionsModule", "migrationsDir", "batchSize", "pollIntervalMs", "timeout", "strict", "allowDrift"];

/** Read the project's config file (if any) over the defaults. */
export function loadConfig(cwd: string): Config {
  const file = path.join(cwd, CONFIG_FILE);
  if (!fs.existsSync(file)) return { ...DEFAULTS };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw usageError(`${CONFIG_FILE} is not valid JSON: ${(error as Error).message}.`, `Fix ${file}.`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw usageError(`${CONFIG_FILE} must hold a JSON object.`, `Known keys: ${KNOWN_KEYS.join(", ")}.`);
  }
  const config = { ...DEFAULTS };
  for (const [key, value] of Object.entries(raw)) {
    const where = `"${key}" in ${CONFIG_FILE}`;
    switch (key) {
      case "functionsModule":
      case "migrationsDir":
        if (typeof value !== "string" || value.trim() === "") throw usageError(`${where} must be a non-empty string.`);
        config[key] = value;
        break;
      case "batchSize":
        config.batchSize = positiveInteger(value, where);
        break;
      case "pollIntervalMs":
        config.pollIntervalMs = positiveInteger(value, where);
        break;
      case "timeout":
        config.timeoutMs = parseDuration(value, where);
        break;
      case "strict":
      case "allowDrift":
        if (typeof value !== "boolean") throw usageError(`${where} must be true or false.`);
        config[key] = value;
        break;
      default:
        throw usageError(`Unknown key "${key}" in ${CONFIG_FILE}.`, `Known keys: ${KNOWN_KEYS.join(", ")}.`);
    }
  }
  return config;
}

/** A whole number above zero, from a flag (string) or the config file (number). */
export function positiveInteger(value: unknown, what: string): number {
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) {
    throw usageError(`${what} must be a whole number above 0, not ${JSON.stringify(value)}.`);
  }
  return n;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * "90s", "15m", "1h30m", "500ms" to milliseconds. A unit is required: a
 * bare "15" could mean seconds or minutes. In the config file a number is
 * taken as milliseconds, like `pollIntervalMs`.
 */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  const text = typeof value === "string" ? value.trim() : "";
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (text === "" || parts.map((p) => p[0]).join("") !== text) {
    throw usageError(`${what} must be a duration such as 90s, 15m or 1h, not ${JSON.stringify(value)}.`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS_MS[p[2] ?? "ms"] ?? 1), 0);
  if (ms <= 0) throw usageError(`${what} must be longer than zero.`);
  return ms;
}

/** The Convex functions folder (`convex.json` "functions", default `convex`), relative to the root. */
export function functionsDir(cwd: string): string {
  const file = path.join(cwd, "convex.json");
  try {
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as { functions?: unknown };
    if (typeof json.functions === "string" && json.functions.trim() !== "") {
      return json.functions.replace(/\/+$/, "");
    }
  } catch {
    // No convex.json, or not one we can read: Convex itself then uses `convex/`.
  }
  return "convex";
}
