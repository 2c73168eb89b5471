/**
 * Schema preflight through the example app's `migrate` module: `checkSchema`
 * finds exactly the documents a schema would reject (for every validator
 * kind, page by page, and none once the migrations ran), never writes, and
 * `deployedSchema` returns the schema given to the constructor.
 */
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../example/convex/_generated/api";
import schema from "../example/convex/schema";
import narrowed from "../example/convex/schema.narrowed";
import { exportSchema, MAX_CHECK_PAGE_ITEMS, schemaFunctions, type SchemaCheckPage } from "../js-shim/src/client/preflight";
import { deployment, drain, type Deployment } from "./harness";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

type Found = Omit<SchemaCheckPage, "continueCursor" | "isDone"> & { pages: number };

/** Every page of `table` checked against `exported`, summed as the CLI does. */
async function checkTable(t: Deployment, exported: string, table: string, numItems = 7, maxSamples = 1_000) {
  const found: Found = { scanned: 0, violating: 0, samples: [], notes: [], pages: 0 };
  let cursor: string | null = null;
  for (;;) {
    const page: SchemaCheckPage = await t.query(internal.migrate.checkSchema, {
      schema: exported,
      table,
      cursor,
      numItems,
      maxSamples,
    });
    found.pages++;
    found.scanned += page.scanned;
    found.violating += page.violating;
    found.samples.push(...page.samples);
    for (const note of page.notes) if (!found.notes.includes(note)) found.notes.push(note);
    if (page.isDone) return found;
    cursor = page.continueCursor;
  }
}

/** Example data in its widened form: 30 todos, 3 users, 5 notes, 4 sessions. */
async function seed(t: Deployment) {
  return await t.run(async (ctx) => {
    const todos: { id: string; done?: boolean; priority?: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const fields = {
        ...(i % 3 === 0 ? { done: true } : {}),
        ...(i % 5 === 0 ? {} : { priority: ["low", "HIGH", "urgent!", "medium"][i % 4]! }),
      };
      todos.push({ id: await ctx.db.insert("todos", { text: `todo ${i}`, ...fields }), ...fields });
    }
    const users = [];
    for (const name of ["Ada", "Grace", "Linus"]) users.push(await ctx.db.insert("users", { name }));
    users.push(await ctx.db.insert("users", { fullName: "Barbara" }));
    for (let i = 0; i < 5; i++) await ctx.db.insert("notes", { body: `note ${i}` });
    for (let i = 0; i < 4; i++) await ctx.db.insert("sessions", { token: `t${i}`, expiresAt: i });
    return { todos, users };
  });
}

const NARROW = exportSchema(narrowed);

describe("checkSchema", () => {
  test("reports exactly the todos the narrowed schema rejects, across pages, with reasons", async () => {
    const t = deployment();
    const { todos } = await seed(t);
    const ok = (p?: string) => p === "low" || p === "medium" || p === "high";
    const expected = todos.filter((d) => d.done === undefined || !ok(d.priority)).map((d) => d.id);

    const found = await checkTable(t, NARROW, "todos");
    expect(found.scanned).toBe(30);
    expect(found.pages).toBeGreaterThan(4); // 7 per page
    expect(found.violating).toBe(expected.length);
    expect(found.samples.map((s) => s.id).sort()).toEqual([...expected].sort());

    const byId = new Map(found.samples.map((s) => [s.id, s.violations]));
    const missingBoth = todos.find((d) => d.done === undefined && d.priority === undefined)!;
    expect(byId.get(missingBoth.id)).toEqual([
      { path: "done", expected: "boolean", found: "missing" },
      { path: "priority", expected: expect.stringContaining('"low"'), found: "missing" },
    ]);
    const urgent = todos.find((d) => d.done === true && d.priority === "urgent!")!;
    expect(byId.get(urgent.id)).toEqual([
      { path: "priority", expected: '"low" | "medium" | "high"', found: expect.stringContaining("urgent!") },
    ]);
  });

  test("users: the renamed field and the missing fullName are both reasons", async () => {
    const t = deployment();
    const { users } = await seed(t);
    const found = await checkTable(t, NARROW, "users");
    expect(found).toMatchObject({ scanned: 4, violating: 3 });
    expect(found.samples.map((s) => s.id)).toEqual(users.slice(0, 3));
    expect(found.samples[0]!.violations.map((x) => x.path).sort()).toEqual(["fullName", "name"]);
  });

  test("finds nothing once the migrations ran, and the widened schema never rejected anything", async () => {
    const t = deployment();
    await seed(t);
    const wide = exportSchema(schema);
    for (const table of ["todos", "users", "notes", "notesV2", "sessions"]) {
      expect((await checkTable(t, wide, table)).violating).toBe(0);
    }
    await t.mutation(internal.migrate.start, {});
    await drain(t);
    for (const table of ["myTable", "todos", "users", "notes", "notesV2", "sessionsBackup", "writeCounts"]) {
      expect((await checkTable(t, NARROW, table)).violating, table).toBe(0);
    }
    expect((await checkTable(t, NARROW, "todos")).scanned).toBe(30);
  });

  test("a table the schema leaves out is noted, not counted", async () => {
    const t = deployment();
    await seed(t);
    const found = await checkTable(t, NARROW, "sessions");
    expect(found).toMatchObject({ scanned: 4, violating: 0, notes: ["not_in_schema"] });
  });

  test("counts every violating document but describes only maxSamples per page", async () => {
    const t = deployment();
    await seed(t);
    const page = await t.query(internal.migrate.checkSchema, {
      schema: NARROW,
      table: "todos",
      cursor: null,
      numItems: 30,
      maxSamples: 2,
    });
    expect(page.isDone).toBe(true);
    expect(page.violating).toBeGreaterThan(2);
    expect(page.samples).toHaveLength(2);
  });

  test("never writes", async () => {
    const t = deployment();
    await seed(t);
    const snapshot = () =>
      t.run(async (ctx) => ({
        todos: await ctx.db.query("todos").collect(),
        users: await ctx.db.query("users").collect(),
      }));
    const before = await snapshot();
    await checkTable(t, NARROW, "todos");
    await checkTable(t, NARROW, "users");
    expect(await snapshot()).toEqual(before);
  });

  test("refuses a page size outside 1..MAX_CHECK_PAGE_ITEMS and a malformed schema", async () => {
    const t = deployment();
    for (const numItems of [0, MAX_CHECK_PAGE_ITEMS + 1]) {
      await expect(
        t.query(internal.migrate.checkSchema, { schema: NARROW, table: "todos", cursor: null, numItems }),
      ).rejects.toThrow(/numItems must be a whole number/);
    }
    await expect(
      t.query(internal.migrate.checkSchema, { schema: "{}", table: "todos", cursor: null }),
    ).rejects.toThrow(/tables/);
  });
});

describe("checkSchema against each validator kind", () => {
  // A table outside the example's schema, so it can hold any value; the
  // schema under check gives it one field of every validator kind.
  const KINDS = "kinds";
  const kinds = exportSchema(
    defineSchema({
      kinds: defineTable({
        str: v.string(),
        num: v.number(),
        f64: v.float64(),
        big: v.int64(),
        bool: v.boolean(),
        nil: v.null(),
        raw: v.bytes(),
        ref: v.id("users"),
        lit: v.literal("on"),
        either: v.union(v.string(), v.number()),
        maybe: v.optional(v.string()),
        obj: v.object({ city: v.string() }),
        rec: v.record(v.string(), v.number()),
        arr: v.array(v.boolean()),
        whatever: v.any(),
      }),
    }),
  );
  const good = (ref: string) => ({
    str: "s",
    num: 1.5,
    f64: 2,
    big: 3n,
    bool: true,
    nil: null,
    raw: new Uint8Array([1, 2]).buffer,
    ref,
    lit: "on",
    either: 4,
    maybe: "m",
    obj: { city: "Oslo" },
    rec: { a: 1 },
    arr: [true, false],
    whatever: { anything: [1, "x", null] },
  });
  // One bad document per kind (v.any() accepts everything, so it has none).
  const bad: Record<string, unknown> = {
    str: 1,
    num: "1",
    f64: "2",
    big: 3,
    bool: "true",
    nil: 0,
    raw: "AQI=",
    ref: 42,
    lit: "off",
    either: true,
    maybe: 5,
    obj: { city: 7 },
    rec: { a: "one" },
    arr: [true, "no"],
  };
  const expectedPath: Record<string, string> = { obj: "obj.city", rec: 'rec["a"]', arr: "arr[1]" };

  test("every kind rejects its bad value with its path, and accepts the good document", async () => {
    const t = deployment();
    const ids = await t.run(async (ctx) => {
      const ref = await ctx.db.insert("users", { fullName: "Ref" });
      const db = ctx.db as unknown as { insert: (table: string, doc: unknown) => Promise<string> };
      const out: Record<string, string> = { good: await db.insert(KINDS, good(ref)) };
      await db.insert(KINDS, { ...good(ref), whatever: new Uint8Array([9]).buffer, maybe: undefined });
      for (const [field, value] of Object.entries(bad)) out[field] = await db.insert(KINDS, { ...good(ref), [field]: value });
      return out;
    });
    const found = await checkTable(t, kinds, KINDS, 4);
    expect(found.scanned).toBe(2 + Object.keys(bad).length);
    expect(found.violating).toBe(Object.keys(bad).length);
    const byId = new Map(found.samples.map((s) => [s.id, s.violations]));
    expect(byId.has(ids.good!)).toBe(false);
    for (const field of Object.keys(bad)) {
      const violations = byId.get(ids[field]!);
      expect(violations, field).toHaveLength(1);
      expect(violations![0]!.path, field).toBe(expectedPath[field] ?? field);
    }
  });

  test("a missing required field and an extra field are violations too", async () => {
    const t = deployment();
    await t.run(async (ctx) => {
      const ref = await ctx.db.insert("users", { fullName: "Ref" });
      const db = ctx.db as unknown as { insert: (table: string, doc: unknown) => Promise<string> };
      await db.insert(KINDS, { ...good(ref), str: undefined });
      await db.insert(KINDS, { ...good(ref), surplus: 1 });
    });
    const found = await checkTable(t, kinds, KINDS);
    expect(found.samples.map((s) => s.violations.map((x) => [x.path, x.found.startsWith("missing")]))).toEqual([
      [["str", true]],
      [["surplus", false]],
    ]);
  });
});

describe("checkSchema and v.id", () => {
  // Ids are checked in the deployment: an id of the named table passes (even
  // of a deleted document), an id of another table or a string that is no id
  // at all is a violation that names what it found.
  const LINKS = "links";
  const links = exportSchema(
    defineSchema({
      users: defineTable({}),
      notes: defineTable({}),
      links: defineTable({
        owner: v.id("users"),
        refs: v.array(v.id("users")),
        byUser: v.record(v.id("users"), v.id("notes")),
        nested: v.object({ note: v.id("notes") }),
        either: v.union(v.id("users"), v.literal("nobody")),
        file: v.optional(v.id("_storage")),
        label: v.optional(v.string()),
      }),
    }),
  );

  async function setup(t: Deployment) {
    return await t.run(async (ctx) => {
      const user = await ctx.db.insert("users", { name: "Ada" });
      const gone = await ctx.db.insert("users", { name: "Gone" });
      await ctx.db.delete(gone);
      const note = await ctx.db.insert("notes", { body: "n" });
      const file = await ctx.storage.store(new Blob(["bytes"]));
      const db = ctx.db as unknown as { insert: (table: string, doc: unknown) => Promise<string> };
      const good = { owner: user, refs: [user, gone], byUser: { [user]: note }, nested: { note }, either: "nobody", file };
      const insert = (fields: Record<string, unknown>) => db.insert(LINKS, { ...good, ...fields });
      return {
        user,
        gone,
        note,
        good: await insert({}),
        deletedOwner: await insert({ owner: gone, either: gone }),
        wrongTable: await insert({ owner: note }),
        notAnId: await insert({ refs: [user, "a"] }),
        wrongKey: await insert({ byUser: { [note]: note } }),
        wrongValue: await insert({ byUser: { [user]: user } }),
        wrongNested: await insert({ nested: { note: user } }),
        wrongUnion: await insert({ either: note }),
        wrongFile: await insert({ file: user }),
        // A string that is an id, where any string will do, stays a string.
        idAsLabel: await insert({ label: note }),
      };
    });
  }

  test("reports ids of another table and non-id strings at every depth, with the table", async () => {
    const t = deployment();
    const ids = await setup(t);
    const found = await checkTable(t, links, LINKS, 3);
    expect(found.scanned).toBe(10);
    const byId = new Map(found.samples.map((s) => [s.id, s.violations]));
    expect(byId.has(ids.good)).toBe(false);
    expect(byId.has(ids.deletedOwner)).toBe(false);
    expect(byId.has(ids.idAsLabel)).toBe(false);
    expect(found.violating).toBe(7);
    expect(byId.get(ids.wrongTable)).toEqual([
      { path: "owner", expected: 'id("users")', found: `an id of "notes": "${ids.note}"` },
    ]);
    expect(byId.get(ids.notAnId)).toEqual([
      { path: "refs[1]", expected: 'id("users")', found: 'a string that is not an id: "a"' },
    ]);
    expect(byId.get(ids.wrongKey)).toEqual([
      { path: `byUser["${ids.note}"]`, expected: 'key of type id("users")', found: `key "${ids.note}" (an id of "notes")` },
    ]);
    expect(byId.get(ids.wrongValue)).toEqual([
      { path: `byUser["${ids.user}"]`, expected: 'id("notes")', found: `an id of "users": "${ids.user}"` },
    ]);
    expect(byId.get(ids.wrongNested)).toEqual([
      { path: "nested.note", expected: 'id("notes")', found: `an id of "users": "${ids.user}"` },
    ]);
    expect(byId.get(ids.wrongUnion)).toEqual([
      { path: "either", expected: 'id("users") | "nobody"', found: `an id of "notes": "${ids.note}"` },
    ]);
    expect(byId.get(ids.wrongFile)).toEqual([
      { path: "file", expected: 'id("_storage")', found: `an id of "users": "${ids.user}"` },
    ]);
  });

  test("finds nothing once the wrong ids are fixed", async () => {
    const t = deployment();
    const ids = await setup(t);
    await t.run(async (ctx) => {
      const db = ctx.db as unknown as { patch: (id: string, doc: unknown) => Promise<void> };
      const good = { owner: ids.user, refs: [ids.user], byUser: { [ids.user]: ids.note }, nested: { note: ids.note }, either: ids.user, file: undefined };
      for (const id of [ids.wrongTable, ids.notAnId, ids.wrongKey, ids.wrongValue, ids.wrongNested, ids.wrongUnion, ids.wrongFile]) {
        await db.patch(id, good);
      }
    });
    const found = await checkTable(t, links, LINKS);
    expect(found).toMatchObject({ scanned: 10, violating: 0, samples: [] });
  });
});

describe("deployedSchema", () => {
  test("returns the schema given to the Migrations constructor, as Convex exports it", async () => {
    const t = deployment();
    const deployed = await t.query(internal.migrate.deployedSchema, {});
    expect(deployed).toBe(exportSchema(schema));
    expect(JSON.parse(deployed).tables.map((x: { tableName: string }) => x.tableName)).toContain("todos");
  });

  test("without a schema it says how to give one", async () => {
    const fn = schemaFunctions(undefined).deployedSchema as unknown as { _handler: (ctx: unknown, args: unknown) => unknown };
    await expect(Promise.resolve().then(() => fn._handler({}, {}))).rejects.toThrow(
      /new Migrations\(components\.migrations, \{ schema \}\)/,
    );
  });
});
