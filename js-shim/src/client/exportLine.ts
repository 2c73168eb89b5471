/**
 * The line that exports what `migrations.versioned()` returns, shown by every
 * error that finds one of its functions missing (the client's `start`, the
 * CLI). Its own module so the CLI can quote it without loading the client.
 */
export const VERSIONED_EXPORT_LINE =
  "export const { start, status, cancel, batch, batchRaw, repair } = migrations.versioned(manifest);";
