/**
 * Loads `convex-migrate demo`, which needs two packages the rest of the CLI
 * does not: convex-test (the in-memory deployment) and, when the CLI runs
 * compiled from the installed package, tsx (the example app and the
 * migrations the demo writes are TypeScript, loaded as the demo deploys
 * them). Both are optional peer dependencies; a missing one is a
 * configuration error that says what to install.
 */
import { CliError, EXIT, usageError } from "../errors.js";
import { PACKAGE } from "../packageRoot.js";

/** The packages the demo needs beyond the CLI's own dependencies. */
export const DEMO_PACKAGES = ["convex-test", "tsx"] as const;

type DemoModule = typeof import("./demo.js");
type Importer = (specifier: string) => Promise<unknown>;

/**
 * Import the demo. Compiled (`.js`, the installed package) it first registers
 * tsx's loader so TypeScript modules import; from the sources a TypeScript
 * loader is already running.
 */
export async function loadDemo(
  importer: Importer = (specifier) => import(/* @vite-ignore */ specifier),
  compiled: boolean = import.meta.url.endsWith(".js"),
): Promise<DemoModule> {
  try {
    if (compiled) {
      const tsx = (await importer("tsx/esm/api")) as { register: () => unknown };
      tsx.register();
    }
    return (await importer(new URL("./demo.js", import.meta.url).href)) as DemoModule;
  } catch (error) {
    throw demoLoadError(error);
  }
}

/** A missing demo package names the install command; anything else is reported as it is. */
export function demoLoadError(error: unknown): CliError {
  const message = String((error as Error)?.message ?? error);
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1];
  const pkg = DEMO_PACKAGES.find((name) => missing === name || missing?.startsWith(`${name}/`));
  if (pkg) {
    return usageError(
      `The demo needs ${pkg}, which is not installed here.`,
      `Install the demo's packages, then run it again: ${installCommand()}`,
    );
  }
  return new CliError(`The demo could not load: ${message}`, EXIT.FAILED, "Please report this with the command you ran.");
}

/** `npm install --save-dev convex-test@<range> tsx@<range>`, with the ranges this package declares. */
export function installCommand(): string {
  const peers = PACKAGE.pkg.peerDependencies ?? {};
  const spec = (name: string) => (peers[name] ? `${name}@"${peers[name]}"` : name);
  return `npm install --save-dev ${DEMO_PACKAGES.map(spec).join(" ")}`;
}
