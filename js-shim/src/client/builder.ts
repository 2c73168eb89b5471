/**
 * A check on what the constructor's `internalMutation` builder made.
 */

/**
 * Refuse a migration function that came out public. The option's type asks
 * for an internal builder, but a cast (or plain JavaScript) can pass
 * `mutation`, which would let any client run a migration, or one batch of
 * it with arguments of its choosing. Runs where the function is defined, so
 * such an app fails to load instead of deploying public migrations.
 */
export function assertInternal<Fn>(fn: Fn): Fn {
  const flags = fn as { isPublic?: unknown; isInternal?: unknown };
  if (flags.isPublic === true || flags.isInternal !== true) {
    throw new Error(
      "The internalMutation option of new Migrations() made a public mutation, so any client could run " +
        "migrations. Pass an internal builder: internalMutation from ./_generated/server, or " +
        "customMutation(internalMutation, ...) to add triggers.",
    );
  }
  return fn;
}
