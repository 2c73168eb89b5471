/** What a runner prints after starting a migration: the outcome and what to do next. */
import type { MigrationStatus } from "../../../convex/validators.js";

export function describeOutcome(name: string, status: MigrationStatus, args: { dryRun?: boolean }): string {
  if (args.dryRun) {
    const samples = status.dryRun?.samples.length ?? 0;
    return (
      `Dry run of ${name}: one batch of ${status.dryRun?.processed ?? 0} documents would update ` +
      `${status.dryRun?.updated ?? 0} (${samples} sample${samples === 1 ? "" : "s"} in the result). Nothing was written.`
    );
  }
  switch (status.state) {
    case "success":
      return `Migration ${name} is done: ${status.processed} documents processed.`;
    case "inProgress":
      return (
        `Migration ${name} is running (${status.processed} documents so far). ` +
        `Watch it: npx convex run --component migrations lib:getStatus --watch`
      );
    case "failed":
      // Errors end in a sentence of their own; don't add a second full stop.
      return `Migration ${name} failed: ${(status.error ?? "").replace(/\.\s*$/, "")}. Fix the cause, then run it again to resume from its cursor.`;
    case "canceled":
      return `Migration ${name} is canceled. Run it again to resume, or pass reset: true to start over.`;
    default:
      return `Migration ${name} is paused after ${status.processed} documents. Run it again to resume.`;
  }
}
