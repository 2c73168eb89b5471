//! Generators of engine inputs from a [`Source`]: each builds the request a
//! Convex function would send, shaped right most of the time so the fuzzer
//! gets past decoding into the rules, and wrong in small ways (a missing or
//! extra field, a value of another type, an edge number) often enough to
//! cover every refusal path.
//!
//! Generators return [`Val`] trees rather than engine structs, so they keep
//! compiling when a struct gains a field; the canary test in
//! `tests/fuzz_engine.rs` checks that most generated requests still decode.

use super::source::Source;
use super::val::Val;

/// Valid migration ids, in ascending order, plus near misses.
pub const IDS: &[&str] = &[
    "20250101_000000_init",
    "20260102_093000_add_priority",
    "20261122_101500_backfill_priority",
    "20261122_101500_backfill_priority_b",
    "20270615_235959_z",
    "20280229_120000_leap_day_fix",
];
const BAD_IDS: &[&str] = &[
    "",
    "2026_bad",
    "20261340_000000_bad_month",
    "20250229_120000_not_leap",
    "20260101_240000_bad_hour",
    "20260101_000000_",
    "20260101-000000_dash",
    "20260101_000000_Upper",
    "２０２６0101_000000_wide",
    "20260101_000000_é",
];
const TABLES: &[&str] = &["todos", "users", "messages"];
const BAD_TABLES: &[&str] = &["", "a.b", "_system", "todos "];
const SOURCES: &[&str] = &[
    "async (ctx, doc) => ({ priority: \"medium\" })",
    "async (ctx, doc) => {\r\n  return { done: !doc.done };\r\n}",
    "(ctx, doc) => undefined",
    "",
    "  \t\n ",
];
const CURSORS: &[&str] = &["", "cursor-1", "[\"abc\",1795000000000]", "null", "\u{0}"];
const MESSAGES: &[&str] = &[
    "Uncaught Error: boom",
    "Too many documents read in a single function execution (limit: 32000)",
    "Too many bytes written in a single function execution",
    "Documents read from or written to the \"todos\" table changed while this mutation was being run and on every subsequent retry.",
    "OptimisticConcurrencyControlFailure",
    "Function execution timed out (maximum duration: 1s)",
    "Transaction too large",
    "",
];
const DOC_IDS: &[&str] = &["k57bz1xyz", "", "jd7\"quote"];
const KEYS: &[&str] = &[
    "name",
    "email",
    "age",
    "tags",
    "_id",
    "_creationTime",
    "$integer",
    "$float",
    "$bytes",
    "a",
    "b",
    "",
];

const WORKER_STATUSES: &[&str] = &["inProgress", "success", "failed", "canceled", "paused"];
const MIGRATION_STATES: &[&str] = &[
    "pending",
    "running",
    "completed",
    "failed",
    "canceled",
    "rolled_back",
    "removed",
];
const RUN_STATUSES: &[&str] = &["running", "succeeded", "failed", "canceled"];
const ITEM_STATUSES: &[&str] = &["pending", "running", "completed", "failed", "canceled"];
const DIRECTIONS: &[&str] = &["up", "down"];
const FAILURE_KINDS: &[&str] = &["limit", "occ", "user"];
const FAILURE_CODES: &[&str] = &["CODE_CHANGED", "MIGRATE_ONE_FAILED", ""];
const HOP_STATES: &[&str] = &["pending", "inProgress", "success", "failed", "canceled"];
/// Names no enum of the engine has (or has under another spelling).
const BAD_NAMES: &[&str] = &[
    "",
    "done",
    "rolledBack",
    "in_progress",
    "sideways",
    "Up",
    "paused",
];

/// Any value at all, at most `depth` levels deep.
pub fn any(s: &mut Source, depth: u32) -> Val {
    let top = if depth == 0 { 4 } else { 6 };
    match s.below(top) {
        0 => Val::Null,
        1 => Val::Bool(s.flag()),
        2 => Val::Num(s.number()),
        3 => Val::Str(s.text(KEYS)),
        4 => {
            let n = s.below(4);
            Val::Arr((0..n).map(|_| any(s, depth - 1)).collect())
        }
        _ => {
            let n = s.below(4);
            Val::Obj((0..n).map(|_| (s.text(KEYS), any(s, depth - 1))).collect())
        }
    }
}

/// An object from well-formed fields, each of which may (rarely) be left
/// out or replaced by a value of the wrong shape; sometimes with an extra
/// field the type does not declare.
fn object(s: &mut Source, fields: Vec<(&str, Option<Val>)>) -> Val {
    let mut out = Vec::new();
    for (key, value) in fields {
        let Some(value) = value else {
            // An absent optional field: usually omitted, sometimes null.
            if s.chance(s.noise()) {
                out.push((key.to_string(), Val::Null));
            }
            continue;
        };
        if s.chance(s.noise()) {
            if s.flag() {
                out.push((key.to_string(), any(s, 2)));
            }
            continue;
        }
        out.push((key.to_string(), value));
    }
    if s.chance(s.noise() / 4) {
        out.push((s.text(KEYS), any(s, 1)));
    }
    Val::Obj(out)
}

fn maybe<T>(s: &mut Source, f: impl FnOnce(&mut Source) -> T) -> Option<T> {
    if s.flag() {
        Some(f(s))
    } else {
        None
    }
}

fn list(s: &mut Source, max: usize, mut f: impl FnMut(&mut Source) -> Val) -> Val {
    let n = s.below(max + 1);
    Val::Arr((0..n).map(|_| f(s)).collect())
}

fn word(s: &mut Source, pool: &[&str]) -> Val {
    Val::Str(s.text(pool))
}

/// One of the names an engine enum accepts; rarely one it does not.
fn name(s: &mut Source, good: &[&str]) -> Val {
    if s.chance(6) {
        word(s, BAD_NAMES)
    } else {
        Val::str(s.pick(good).unwrap_or_default())
    }
}

/// A table name: rarely one Convex would refuse.
fn table_name(s: &mut Source) -> Val {
    if s.chance(8) {
        word(s, BAD_TABLES)
    } else {
        Val::str(s.pick(TABLES).unwrap_or_default())
    }
}

/// A small whole number for a `u32` field; rarely an edge value.
fn small(s: &mut Source) -> Val {
    Val::Num(if s.chance(s.noise()) {
        s.number()
    } else if s.chance(32) {
        (s.u64() % 100_000) as f64
    } else {
        f64::from(s.byte())
    })
}

fn num(s: &mut Source) -> Val {
    Val::Num(s.number())
}

fn count(s: &mut Source) -> Val {
    Val::Num(s.count())
}

fn bool_(s: &mut Source) -> Val {
    Val::Bool(s.flag())
}

/// A time in milliseconds: mostly a plausible clock reading, sometimes any
/// number.
pub fn time(s: &mut Source) -> f64 {
    if s.chance(40) {
        s.number()
    } else {
        1_795_000_000_000.0 + f64::from(s.byte()) * 1_000.0
    }
}

fn time_val(s: &mut Source) -> Val {
    Val::Num(time(s))
}

/// A migration id: valid most of the time.
pub fn id(s: &mut Source) -> String {
    if s.chance(24) {
        s.text(BAD_IDS)
    } else {
        s.pick(IDS).unwrap_or_default().to_string()
    }
}

fn step_def(s: &mut Source) -> Val {
    let table = table_name(s);
    let batch_size = maybe(s, small);
    let source = word(s, SOURCES);
    object(
        s,
        vec![
            ("table", Some(table)),
            ("batchSize", batch_size),
            ("source", Some(source)),
        ],
    )
}

fn migration_def_with_id(s: &mut Source, id: String) -> Val {
    let description = word(s, &["backfill", "", "line\nbreak"]);
    let up = step_def(s);
    let down = maybe(s, step_def);
    object(
        s,
        vec![
            ("id", Some(Val::Str(id))),
            ("description", Some(description)),
            ("up", Some(up)),
            ("down", down),
        ],
    )
}

/// A migration definition (`MigrationDef`).
pub fn migration_def(s: &mut Source) -> Val {
    let id = id(s);
    migration_def_with_id(s, id)
}

/// A manifest: usually sorted and unique, sometimes not.
pub fn manifest(s: &mut Source) -> Val {
    let n = s.below(7);
    let mut ids: Vec<String> = (0..n).map(|_| id(s)).collect();
    if !s.chance(24) {
        ids.sort();
        ids.dedup();
    }
    Val::Arr(
        ids.into_iter()
            .map(|id| migration_def_with_id(s, id))
            .collect(),
    )
}

/// Stored records for a manifest: ids taken from it (with the checksum the
/// engine computes for them, most of the time) and from the id pool.
pub fn records(s: &mut Source, manifest: &Val) -> Val {
    let defs: Vec<engine::checksum::MigrationDef> = manifest
        .decode::<Vec<serde_json::Value>>()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| serde_json::from_value(d).ok())
        .collect();
    let mut out = Vec::new();
    for def in &defs {
        if s.flag() {
            continue;
        }
        // Mostly a value with its right form (v1 stored with or without the
        // field, as older releases left it); sometimes a form that does not
        // fit the value or that this engine does not know.
        let (checksum, form) = if s.chance(32) {
            (
                s.text(&["sha256:0000", "sha256v2:0000", "", "md5:1"]),
                small(s),
            )
        } else if s.flag() {
            let form = if s.flag() { Val::Null } else { Val::Num(1.0) };
            (engine::checksum::checksum_v1(def), form)
        } else {
            let form = if s.chance(16) {
                small(s)
            } else {
                Val::Num(2.0)
            };
            (engine::checksum::checksum(def), form)
        };
        out.push(record(s, def.id.clone(), checksum, form));
    }
    let extra = s.below(3);
    for _ in 0..extra {
        let id = id(s);
        out.push(record(s, id, "sha256:ffff".into(), Val::Null));
    }
    if s.chance(64) {
        out.reverse();
    }
    Val::Arr(out)
}

fn record(s: &mut Source, id: String, checksum: String, form: Val) -> Val {
    let state = name(s, MIGRATION_STATES);
    let last_direction = maybe(s, |s| name(s, DIRECTIONS));
    let form = match form {
        Val::Null => None,
        form => Some(form),
    };
    object(
        s,
        vec![
            ("id", Some(Val::Str(id))),
            ("checksum", Some(Val::Str(checksum))),
            ("checksumForm", form),
            ("state", Some(state)),
            ("lastDirection", last_direction),
        ],
    )
}

fn steps(s: &mut Source) -> Val {
    Val::Num(match s.byte() % 4 {
        0 => f64::from(s.byte() % 8),
        1 => -f64::from(s.byte()),
        2 => s.number(),
        _ => 1.0,
    })
}

/// A versioned `start` request (`StartRequest`).
pub fn start_request(s: &mut Source) -> Val {
    let manifest = manifest(s);
    let records = records(s, &manifest);
    let direction = name(s, DIRECTIONS);
    let steps = maybe(s, steps);
    let to = maybe(s, |s| Val::Str(id(s)));
    let dry_run = maybe(s, bool_);
    let allow_drift = maybe(s, bool_);
    let strict = maybe(s, bool_);
    let restart = maybe(s, bool_);
    let active = maybe(s, |s| word(s, &["run_1", ""]));
    object(
        s,
        vec![
            ("manifest", Some(manifest)),
            ("records", Some(records)),
            ("direction", Some(direction)),
            ("steps", steps),
            ("to", to),
            ("dryRun", dry_run),
            ("allowDrift", allow_drift),
            ("strict", strict),
            ("restart", restart),
            ("activeRunId", active),
        ],
    )
}

/// A `decideRepair` request (`RepairRequest`).
pub fn repair_request(s: &mut Source) -> Val {
    let manifest = manifest(s);
    let records = records(s, &manifest);
    let ids = maybe(s, |s| {
        let n = s.below(3);
        Val::Arr((0..n).map(|_| Val::Str(id(s))).collect())
    });
    let active = maybe(s, |s| word(s, &["run_1", ""]));
    let now = num(s);
    object(
        s,
        vec![
            ("manifest", Some(manifest)),
            ("records", Some(records)),
            ("ids", ids),
            ("activeRunId", active),
            ("nowMs", Some(now)),
        ],
    )
}

/// A `statusReport` request.
pub fn status_report_request(s: &mut Source) -> Val {
    let manifest = manifest(s);
    let records = records(s, &manifest);
    object(
        s,
        vec![("manifest", Some(manifest)), ("records", Some(records))],
    )
}

/// Transaction limits (`Limits`), sometimes tiny or zero.
pub fn limits(s: &mut Source) -> Val {
    let mut fields = Vec::new();
    for key in [
        "documentsRead",
        "bytesRead",
        "documentsWritten",
        "bytesWritten",
        "databaseQueries",
    ] {
        fields.push((key, Some(count(s))));
    }
    fields.push(("timeMs", Some(num(s))));
    object(s, fields)
}

fn usage(s: &mut Source) -> Val {
    let mut fields = Vec::new();
    for key in [
        "documentsRead",
        "bytesRead",
        "documentsWritten",
        "bytesWritten",
        "databaseQueries",
    ] {
        fields.push((key, Some(count(s))));
    }
    object(s, fields)
}

/// A `_creationTime` range (`KeyRange`).
pub fn key_range(s: &mut Source) -> Val {
    let lo = maybe(s, time_val);
    let hi = maybe(s, time_val);
    object(s, vec![("lo", lo), ("hi", hi)])
}

fn failure(s: &mut Source) -> Val {
    let kind = name(s, FAILURE_KINDS);
    let message = word(s, MESSAGES);
    let document_id = maybe(s, |s| word(s, DOC_IDS));
    let cursor = maybe(s, |s| word(s, CURSORS));
    let batch_size = small(s);
    let at_ms = time_val(s);
    object(
        s,
        vec![
            ("kind", Some(kind)),
            ("message", Some(message)),
            ("documentId", document_id),
            ("cursor", cursor),
            ("batchSize", Some(batch_size)),
            ("atMs", Some(at_ms)),
        ],
    )
}

/// A stored worker row (`WorkerState`), consistent or not.
pub fn worker_state(s: &mut Source) -> Val {
    let status = name(s, WORKER_STATUSES);
    let cursor = maybe(s, |s| word(s, CURSORS));
    let batch_size = small(s);
    let max_batch_size = small(s);
    let adaptive = bool_(s);
    let processed = count(s);
    let updated = count(s);
    let batches = count(s);
    let cheap_streak = small(s);
    let occ_retries = small(s);
    let error = maybe(s, failure);
    let started_ms = time_val(s);
    let ended_ms = maybe(s, time_val);
    let last_batch_ms = maybe(s, time_val);
    let generation = count(s);
    let one_batch_only = bool_(s);
    let range = maybe(s, key_range);
    let position = maybe(s, |s| {
        let (lo, hi, at) = (time_val(s), time_val(s), time_val(s));
        let key_field = maybe(s, small);
        object(
            s,
            vec![
                ("lo", Some(lo)),
                ("hi", Some(hi)),
                ("at", Some(at)),
                ("keyField", key_field),
            ],
        )
    });
    let fan_out = maybe(s, count);
    let size_sent = maybe(s, bool_);
    object(
        s,
        vec![
            ("status", Some(status)),
            ("cursor", cursor),
            ("batchSize", Some(batch_size)),
            ("maxBatchSize", Some(max_batch_size)),
            ("adaptive", Some(adaptive)),
            ("processed", Some(processed)),
            ("updated", Some(updated)),
            ("batches", Some(batches)),
            ("cheapStreak", Some(cheap_streak)),
            ("occRetries", Some(occ_retries)),
            ("error", error),
            ("startedMs", Some(started_ms)),
            ("endedMs", ended_ms),
            ("lastBatchMs", last_batch_ms),
            ("generation", Some(generation)),
            ("oneBatchOnly", Some(one_batch_only)),
            ("range", range),
            ("position", position),
            ("fanOut", fan_out),
            ("sizeSent", size_sent),
        ],
    )
}

/// An event for a worker (`Event`). `generation` is the worker's current
/// one, so that ticks often match it and reach the batch path.
pub fn worker_event(s: &mut Source, generation: Option<u64>) -> Val {
    let now = time_val(s);
    match s.byte() % 7 {
        0 => {
            let batch_size = maybe(s, count);
            let max_batch_size = maybe(s, count);
            let adaptive = maybe(s, bool_);
            let cursor = maybe(s, |s| word(s, CURSORS));
            let reset = maybe(s, bool_);
            let one_batch_only = maybe(s, bool_);
            let range = maybe(s, key_range);
            let stalled = maybe(s, bool_);
            object(
                s,
                vec![
                    ("type", Some(Val::str("start"))),
                    ("nowMs", Some(now)),
                    ("batchSize", batch_size),
                    ("maxBatchSize", max_batch_size),
                    ("adaptive", adaptive),
                    ("cursor", cursor),
                    ("reset", reset),
                    ("oneBatchOnly", one_batch_only),
                    ("range", range),
                    ("stalled", stalled),
                ],
            )
        }
        1 => {
            let generation = match generation {
                Some(g) if !s.chance(48) => Val::Num(g as f64),
                _ => count(s),
            };
            object(
                s,
                vec![
                    ("type", Some(Val::str("tick"))),
                    ("generation", Some(generation)),
                ],
            )
        }
        2 | 3 => {
            let processed = count(s);
            let updated = count(s);
            let cursor = word(s, CURSORS);
            let is_done = Val::Bool(s.chance(48));
            let elapsed = num(s);
            let usage = maybe(s, usage);
            let budget = maybe(s, limits);
            let position = maybe(s, page_position);
            object(
                s,
                vec![
                    ("type", Some(Val::str("batchCommitted"))),
                    ("nowMs", Some(now)),
                    ("processed", Some(processed)),
                    ("updated", Some(updated)),
                    ("cursor", Some(cursor)),
                    ("isDone", Some(is_done)),
                    ("hopMs", Some(elapsed)),
                    ("usage", usage),
                    ("budget", budget),
                    ("position", position),
                ],
            )
        }
        4 => {
            let message = word(s, MESSAGES);
            let code = maybe(s, |s| word(s, FAILURE_CODES));
            let document_id = maybe(s, |s| word(s, DOC_IDS));
            object(
                s,
                vec![
                    ("type", Some(Val::str("batchFailed"))),
                    ("nowMs", Some(now)),
                    ("message", Some(message)),
                    ("code", code),
                    ("documentId", document_id),
                ],
            )
        }
        5 => {
            let tag = word(
                s,
                &[
                    "cancelRequested",
                    "halt",
                    "hopDied",
                    "startRefused",
                    "bogus",
                ],
            );
            object(s, vec![("type", Some(tag)), ("nowMs", Some(now))])
        }
        _ => any(s, 2),
    }
}

/// Where a page left a walk: a key, and sometimes the walk's bounds; in
/// `_creationTime` or, for a `customRange`, as index keys.
fn page_position(s: &mut Source) -> Val {
    if s.chance(64) {
        let at = index_key(s);
        let bounds = maybe(s, |s| {
            let (lo, hi) = (index_key(s), index_key(s));
            object(s, vec![("lo", Some(lo)), ("hi", Some(hi))])
        });
        let keys = object(s, vec![("at", Some(at)), ("bounds", bounds)]);
        return object(s, vec![("indexKey", Some(keys))]);
    }
    let at = maybe(s, time_val);
    let bounds = maybe(s, |s| {
        let (lo, hi) = (time_val(s), time_val(s));
        object(s, vec![("lo", Some(lo)), ("hi", Some(hi))])
    });
    object(s, vec![("at", at), ("bounds", bounds)])
}

/// An index key: numbers and texts, sometimes another value.
fn index_key(s: &mut Source) -> Val {
    list(s, 4, |s| match s.byte() % 4 {
        0 | 1 => time_val(s),
        2 => word(s, &["\"a\"", "\"b\"", "true", ""]),
        _ => any(s, 1),
    })
}

/// A `runEstimate` request: a run's items, some with their own estimate.
pub fn run_estimate_request(s: &mut Source) -> Val {
    let items = list(s, 6, |s| {
        let status = name(s, ITEM_STATUSES);
        let estimate = maybe(s, |s| {
            let fraction = if s.flag() { num(s) } else { Val::Null };
            let eta = if s.flag() { num(s) } else { Val::Null };
            let basis = word(s, &["creationTime", "done", "none", "bogus"]);
            object(
                s,
                vec![
                    ("fractionDone", Some(fraction)),
                    ("etaMs", Some(eta)),
                    ("basis", Some(basis)),
                ],
            )
        });
        object(s, vec![("status", Some(status)), ("estimate", estimate)])
    });
    object(s, vec![("items", Some(items))])
}

/// A `workerStep` request.
pub fn worker_step_request(s: &mut Source) -> Val {
    let state = if s.chance(64) {
        None
    } else {
        Some(worker_state(s))
    };
    let event = worker_event(s, None);
    let limits = maybe(s, limits);
    object(
        s,
        vec![("state", state), ("event", Some(event)), ("limits", limits)],
    )
}

fn run_item(s: &mut Source) -> Val {
    let id = Val::Str(id(s));
    let direction = name(s, DIRECTIONS);
    let status = name(s, ITEM_STATUSES);
    let processed = count(s);
    let updated = count(s);
    let started = maybe(s, time_val);
    let ended = maybe(s, time_val);
    let error = maybe(s, |s| word(s, MESSAGES));
    object(
        s,
        vec![
            ("id", Some(id)),
            ("direction", Some(direction)),
            ("status", Some(status)),
            ("processed", Some(processed)),
            ("updated", Some(updated)),
            ("startedMs", started),
            ("endedMs", ended),
            ("error", error),
        ],
    )
}

/// A stored run (`RunState`), consistent or not.
pub fn run_state(s: &mut Source) -> Val {
    let status = name(s, RUN_STATUSES);
    let items = list(s, 5, run_item);
    let current = maybe(s, |s| {
        Val::Num(if s.chance(32) {
            s.count()
        } else {
            f64::from(s.byte() % 6)
        })
    });
    let started = time_val(s);
    let ended = maybe(s, time_val);
    let error = maybe(s, |s| word(s, MESSAGES));
    object(
        s,
        vec![
            ("status", Some(status)),
            ("items", Some(items)),
            ("current", current),
            ("startedMs", Some(started)),
            ("endedMs", ended),
            ("error", error),
        ],
    )
}

/// An event for a run (`RunEvent`).
pub fn run_event(s: &mut Source) -> Val {
    let now = time_val(s);
    match s.byte() % 5 {
        0 => object(
            s,
            vec![("type", Some(Val::str("begin"))), ("nowMs", Some(now))],
        ),
        1 => {
            let processed = count(s);
            let updated = count(s);
            object(
                s,
                vec![
                    ("type", Some(Val::str("itemFinished"))),
                    ("nowMs", Some(now)),
                    ("processed", Some(processed)),
                    ("updated", Some(updated)),
                ],
            )
        }
        2 => {
            let message = word(s, MESSAGES);
            object(
                s,
                vec![
                    ("type", Some(Val::str("itemFailed"))),
                    ("nowMs", Some(now)),
                    ("message", Some(message)),
                ],
            )
        }
        3 => object(
            s,
            vec![
                ("type", Some(Val::str("cancelRequested"))),
                ("nowMs", Some(now)),
            ],
        ),
        _ => any(s, 2),
    }
}

/// A `newRun` request.
pub fn new_run_request(s: &mut Source) -> Val {
    let items = list(s, 5, |s| {
        let id = Val::Str(id(s));
        let direction = name(s, DIRECTIONS);
        object(s, vec![("id", Some(id)), ("direction", Some(direction))])
    });
    let now = time_val(s);
    object(s, vec![("items", Some(items)), ("nowMs", Some(now))])
}

/// A `runStep` request.
pub fn run_step_request(s: &mut Source) -> Val {
    let state = run_state(s);
    let event = run_event(s);
    object(s, vec![("state", Some(state)), ("event", Some(event))])
}

/// A `summarize` request.
pub fn summarize_request(s: &mut Source) -> Val {
    let workers = list(s, 4, worker_state);
    let now = time_val(s);
    object(s, vec![("workers", Some(workers)), ("nowMs", Some(now))])
}

// ---------- Convex validators, schemas and documents ----------

const SIMPLE_TYPES: &[&str] = &[
    "string", "number", "float64", "bigint", "int64", "boolean", "null", "bytes", "any", "commitTs",
];

/// Standard base64 of `n` arbitrary bytes, padded; rarely off by a
/// character.
fn base64(s: &mut Source, n: usize) -> Val {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = (0..n).map(|_| s.byte()).collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let word = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(word >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    if s.chance(12) {
        if s.flag() {
            out.pop();
        } else {
            out.push('A');
        }
    }
    Val::Str(out)
}

/// Byte count for an `$integer` or `$float`: eight, rarely not.
fn eight(s: &mut Source) -> usize {
    if s.chance(16) {
        s.below(12)
    } else {
        8
    }
}

/// A `v.literal(...)` value: a string, number, boolean or int64.
fn literal_value(s: &mut Source) -> Val {
    match s.byte() % 8 {
        0 | 1 => Val::Str(s.text(KEYS)),
        2 | 3 => Val::Num(s.number()),
        4 => Val::Bool(s.flag()),
        5 => {
            let n = eight(s);
            Val::obj(vec![("$integer", base64(s, n))])
        }
        _ => convex_value(s, 0),
    }
}

/// A value in Convex's JSON encoding (`convexToJson`), including the
/// `$integer`, `$float` and `$bytes` wrappers, well-formed or not.
pub fn convex_value(s: &mut Source, depth: u32) -> Val {
    let top = if depth == 0 { 7 } else { 9 };
    match s.below(top) {
        0 => Val::Null,
        1 => Val::Bool(s.flag()),
        2 => Val::Num(s.number()),
        3 => Val::Str(s.text(KEYS)),
        4 => {
            let n = eight(s);
            Val::obj(vec![("$integer", base64(s, n))])
        }
        5 => {
            let n = eight(s);
            Val::obj(vec![("$float", base64(s, n))])
        }
        6 => {
            let n = s.below(16);
            Val::obj(vec![("$bytes", base64(s, n))])
        }
        7 => list(s, 3, |s| convex_value(s, depth - 1)),
        _ => {
            let n = s.below(4);
            Val::Obj(
                (0..n)
                    .map(|_| (s.text(KEYS), convex_value(s, depth - 1)))
                    .collect(),
            )
        }
    }
}

fn field_type(s: &mut Source, depth: u32) -> Val {
    let field_type = validator(s, depth);
    let optional = bool_(s);
    object(
        s,
        vec![
            ("fieldType", Some(field_type)),
            ("optional", Some(optional)),
        ],
    )
}

/// An exported validator (`Validator.json`), at most `depth` levels deep.
pub fn validator(s: &mut Source, depth: u32) -> Val {
    let top = if depth == 0 { 3 } else { 8 };
    match s.below(top) {
        0 => {
            let t = name(s, SIMPLE_TYPES);
            object(s, vec![("type", Some(t))])
        }
        1 => {
            let table = table_name(s);
            object(
                s,
                vec![("type", Some(Val::str("id"))), ("tableName", Some(table))],
            )
        }
        2 => {
            let value = literal_value(s);
            object(
                s,
                vec![("type", Some(Val::str("literal"))), ("value", Some(value))],
            )
        }
        3 => {
            let inner = validator(s, depth - 1);
            object(
                s,
                vec![("type", Some(Val::str("array"))), ("value", Some(inner))],
            )
        }
        4 | 5 => object_validator(s, depth),
        6 => {
            let keys = validator(s, 0);
            let values = field_type(s, depth - 1);
            object(
                s,
                vec![
                    ("type", Some(Val::str("record"))),
                    ("keys", Some(keys)),
                    ("values", Some(values)),
                ],
            )
        }
        _ => {
            let members = list(s, 3, |s| validator(s, depth - 1));
            object(
                s,
                vec![("type", Some(Val::str("union"))), ("value", Some(members))],
            )
        }
    }
}

/// `v.object({...})`, the usual document type.
fn object_validator(s: &mut Source, depth: u32) -> Val {
    let n = s.below(5);
    let fields = Val::Obj(
        (0..n)
            .map(|_| (s.text(KEYS), field_type(s, depth.saturating_sub(1))))
            .collect(),
    );
    object(
        s,
        vec![("type", Some(Val::str("object"))), ("value", Some(fields))],
    )
}

fn strings(s: &mut Source, max: usize) -> Val {
    list(s, max, |s| word(s, KEYS))
}

fn table(s: &mut Source, index: usize) -> Val {
    let name = if s.chance(16) {
        table_name(s)
    } else {
        Val::str(TABLES.get(index).copied().unwrap_or("extra"))
    };
    let indexes = list(s, 2, |s| {
        let name = word(s, &["by_name", "by_age", ""]);
        let fields = strings(s, 3);
        object(
            s,
            vec![("indexDescriptor", Some(name)), ("fields", Some(fields))],
        )
    });
    let search = maybe(s, |s| {
        list(s, 1, |s| {
            let name = word(s, &["search_name"]);
            let field = word(s, KEYS);
            let filters = strings(s, 2);
            object(
                s,
                vec![
                    ("indexDescriptor", Some(name)),
                    ("searchField", Some(field)),
                    ("filterFields", Some(filters)),
                ],
            )
        })
    });
    let vector = maybe(s, |s| {
        list(s, 1, |s| {
            let name = word(s, &["by_embedding"]);
            let field = word(s, KEYS);
            let dimensions = small(s);
            let filters = strings(s, 2);
            object(
                s,
                vec![
                    ("indexDescriptor", Some(name)),
                    ("vectorField", Some(field)),
                    ("dimensions", Some(dimensions)),
                    ("filterFields", Some(filters)),
                ],
            )
        })
    });
    let document_type = match s.byte() % 16 {
        0 => None,
        1 => Some(validator(s, 4)),
        2 => {
            let members = list(s, 3, |s| object_validator(s, 3));
            Some(Val::obj(vec![
                ("type", Val::str("union")),
                ("value", members),
            ]))
        }
        _ => Some(object_validator(s, 4)),
    };
    object(
        s,
        vec![
            ("tableName", Some(name)),
            ("indexes", Some(indexes)),
            ("searchIndexes", search),
            ("vectorIndexes", vector),
            ("documentType", document_type),
        ],
    )
}

/// An exported schema (`defineSchema(...).export()`) as an object.
fn schema_object(s: &mut Source) -> Val {
    let n = s.below(4);
    let tables = Val::Arr((0..n).map(|i| table(s, i)).collect());
    let validation = maybe(s, bool_);
    object(
        s,
        vec![("tables", Some(tables)), ("schemaValidation", validation)],
    )
}

/// The schema object, or sometimes the JSON string that encodes it (the
/// engine takes both).
fn maybe_string(s: &mut Source, schema: Val) -> Val {
    if s.chance(48) {
        Val::Str(schema.to_json_text())
    } else {
        schema
    }
}

/// An exported schema, as an object or as its JSON string.
pub fn schema(s: &mut Source) -> Val {
    let schema = schema_object(s);
    maybe_string(s, schema)
}

/// Replaces one node somewhere in `v` with a fresh validator or value, so
/// a second schema differs from the first in one place.
pub fn mutate(s: &mut Source, v: &mut Val) {
    let children = match v {
        Val::Arr(items) => items.len(),
        Val::Obj(fields) => fields.len(),
        _ => 0,
    };
    if let (Val::Arr(items), 0) = (&mut *v, children) {
        items.push(validator(s, 2));
        return;
    }
    if children == 0 || s.chance(12) {
        *v = if s.flag() { validator(s, 2) } else { any(s, 2) };
        return;
    }
    let i = s.below(children);
    match v {
        Val::Arr(items) => {
            if let Some(child) = items.get_mut(i) {
                mutate(s, child);
            }
        }
        Val::Obj(fields) => {
            if let Some((_, child)) = fields.get_mut(i) {
                mutate(s, child);
            }
        }
        _ => {}
    }
}

/// A `checkPage` request: a schema, a table and a page of documents.
pub fn page_check_request(s: &mut Source) -> Val {
    let schema = schema(s);
    let table = table_name(s);
    let documents = list(s, 6, |s| {
        if s.chance(32) {
            convex_value(s, 3)
        } else {
            let n = s.below(6);
            Val::Obj((0..n).map(|_| (s.text(KEYS), convex_value(s, 3))).collect())
        }
    });
    let max_samples = small(s);
    // Answers about ids: strings from the same pool the documents use, each
    // an id of some table or of none.
    let ids = list(s, 6, |s| {
        let value = Val::Str(s.text(KEYS));
        let table = if s.flag() { table_name(s) } else { Val::Null };
        Val::Obj(vec![("value".into(), value), ("table".into(), table)])
    });
    object(
        s,
        vec![
            ("schema", Some(schema)),
            ("table", Some(table)),
            ("documents", Some(documents)),
            ("maxSamples", Some(max_samples)),
            ("ids", Some(ids)),
        ],
    )
}

/// A `diffSchemas` request: often the second schema is the first with one
/// node replaced.
pub fn diff_schemas_request(s: &mut Source) -> Val {
    let old_object = schema_object(s);
    let new_object = if s.flag() {
        let mut new = old_object.clone();
        mutate(s, &mut new);
        new
    } else {
        schema_object(s)
    };
    let old = maybe_string(s, old_object);
    let new = maybe_string(s, new_object);
    object(s, vec![("old", Some(old)), ("new", Some(new))])
}

/// A `planBridge` request: two schemas, often one a near copy of the other.
pub fn plan_bridge_request(s: &mut Source) -> Val {
    let deployed_object = schema_object(s);
    let target_object = if s.flag() {
        let mut target = deployed_object.clone();
        mutate(s, &mut target);
        target
    } else {
        schema_object(s)
    };
    let deployed = maybe_string(s, deployed_object);
    let target = maybe_string(s, target_object);
    object(
        s,
        vec![("deployed", Some(deployed)), ("target", Some(target))],
    )
}

/// A `buildManifest` request.
pub fn build_manifest_request(s: &mut Source) -> Val {
    let migrations = manifest(s);
    object(s, vec![("migrations", Some(migrations))])
}

/// A `cursorPosition` request: stored cursors, or anything.
pub fn cursor_request(s: &mut Source) -> Val {
    let cursor = if s.chance(64) {
        any(s, 2)
    } else {
        word(s, CURSORS)
    };
    let index_fields = maybe(s, |s| list(s, 3, |s| word(s, &["done", "n", ""])));
    object(
        s,
        vec![("cursor", Some(cursor)), ("indexFields", index_fields)],
    )
}

/// A `checkIndexWalk` request: field paths that overlap now and then.
pub fn index_walk_request(s: &mut Source) -> Val {
    const FIELDS: &[&str] = &["n", "n.m", "done", "meta", "meta.rank", "", "."];
    let index_fields = list(s, 3, |s| word(s, FIELDS));
    let changed_fields = list(s, 3, |s| word(s, FIELDS));
    let table = word(s, &["todos", ""]);
    let index = word(s, &["by_n", "by_creation_time"]);
    object(
        s,
        vec![
            ("table", Some(table)),
            ("index", Some(index)),
            ("indexFields", Some(index_fields)),
            ("changedFields", Some(changed_fields)),
        ],
    )
}

/// A `checkBatchSize` request: a size and a ceiling, each absent, small or
/// any number JavaScript may pass.
pub fn check_batch_size_request(s: &mut Source) -> Val {
    let batch_size = maybe(s, |s| if s.chance(4) { num(s) } else { small(s) });
    let max_batch_size = maybe(s, |s| if s.chance(4) { num(s) } else { small(s) });
    object(
        s,
        vec![("batchSize", batch_size), ("maxBatchSize", max_batch_size)],
    )
}

/// An `adoptPeer` request: a row @convex-dev/migrations stored, with the
/// state of the job its `workerId` names.
pub fn peer_row(s: &mut Source) -> Val {
    let name_ = word(s, &["migrations:setDefault", "", "a"]);
    let is_done = bool_(s);
    let cursor = maybe(s, |s| {
        word(
            s,
            &[
                "[1719412234000,\"k97d5ycbj3vgwcprmmxvmrm2dh7a5qhv\"]",
                "u1oU8i23WMATVwA2CneZ",
                "[]",
                "",
            ],
        )
    });
    let processed = if s.chance(8) { num(s) } else { count(s) };
    let error = maybe(s, |s| word(s, &["Document failed: boom", ""]));
    let latest_start = time_val(s);
    let latest_end = maybe(s, time_val);
    let job = maybe(s, |s| {
        name(
            s,
            &["pending", "inProgress", "success", "failed", "canceled"],
        )
    });
    object(
        s,
        vec![
            ("name", Some(name_)),
            ("isDone", Some(is_done)),
            ("cursor", cursor),
            ("processed", Some(processed)),
            ("error", error),
            ("latestStart", Some(latest_start)),
            ("latestEnd", latest_end),
            ("job", job),
        ],
    )
}

/// One worker of a migration with its hop (`JobWorker`).
fn job_worker(s: &mut Source) -> Val {
    let index = small(s);
    let state = worker_state(s);
    let hop = maybe(s, |s| name(s, HOP_STATES));
    let hop_error = maybe(s, |s| word(s, MESSAGES));
    object(
        s,
        vec![
            ("index", Some(index)),
            ("state", Some(state)),
            ("hop", hop),
            ("hopError", hop_error),
        ],
    )
}

/// An event for a migration (`JobEvent`).
fn job_event(s: &mut Source) -> Val {
    let now = time_val(s);
    match s.byte() % 6 {
        0 => {
            let batch_size = maybe(s, count);
            let default_batch_size = maybe(s, count);
            let reset = maybe(s, bool_);
            let inline = maybe(s, bool_);
            let one_batch_only = maybe(s, bool_);
            let cursor = maybe(s, |s| word(s, CURSORS));
            let workers = maybe(s, count);
            object(
                s,
                vec![
                    ("type", Some(Val::str("start"))),
                    ("nowMs", Some(now)),
                    ("batchSize", batch_size),
                    ("defaultBatchSize", default_batch_size),
                    ("reset", reset),
                    ("inline", inline),
                    ("oneBatchOnly", one_batch_only),
                    ("cursor", cursor),
                    ("workers", workers),
                ],
            )
        }
        1 => object(
            s,
            vec![("type", Some(Val::str("check"))), ("nowMs", Some(now))],
        ),
        2 => {
            let index = small(s);
            let generation = count(s);
            object(
                s,
                vec![
                    ("type", Some(Val::str("tick"))),
                    ("index", Some(index)),
                    ("generation", Some(generation)),
                ],
            )
        }
        3 => {
            let index = small(s);
            let outcome = if s.flag() {
                let processed = count(s);
                let cursor = word(s, CURSORS);
                let is_done = Val::Bool(s.chance(48));
                let usage = maybe(s, usage);
                object(
                    s,
                    vec![
                        ("type", Some(Val::str("committed"))),
                        ("processed", Some(processed.clone())),
                        ("updated", Some(processed)),
                        ("cursor", Some(cursor)),
                        ("isDone", Some(is_done)),
                        ("usage", usage),
                    ],
                )
            } else {
                let message = word(s, MESSAGES);
                let code = maybe(s, |s| word(s, FAILURE_CODES));
                object(
                    s,
                    vec![
                        ("type", Some(Val::str("threw"))),
                        ("message", Some(message)),
                        ("code", code),
                    ],
                )
            };
            let budget = limits(s);
            let previous = maybe(s, num);
            object(
                s,
                vec![
                    ("type", Some(Val::str("batchDone"))),
                    ("index", Some(index)),
                    ("nowMs", Some(now)),
                    ("outcome", Some(outcome)),
                    ("budget", Some(budget)),
                    ("previousHopMs", previous),
                ],
            )
        }
        4 => object(
            s,
            vec![("type", Some(Val::str("cancel"))), ("nowMs", Some(now))],
        ),
        _ => {
            let message = word(s, MESSAGES);
            object(
                s,
                vec![
                    ("type", Some(Val::str("startRefused"))),
                    ("nowMs", Some(now)),
                    ("message", Some(message)),
                ],
            )
        }
    }
}

/// A `jobStep` request.
pub fn job_request(s: &mut Source) -> Val {
    let workers = list(s, 4, job_worker);
    let event = job_event(s);
    let limits = maybe(s, limits);
    let remaining = maybe(s, usage);
    let used = maybe(s, usage);
    let versioned = maybe(s, |s| name(s, DIRECTIONS));
    let has_next = maybe(s, bool_);
    let own_size = maybe(s, bool_);
    object(
        s,
        vec![
            ("workers", Some(workers)),
            ("event", Some(event)),
            ("ownSize", own_size),
            ("limits", limits),
            ("remaining", remaining),
            ("used", used),
            ("versioned", versioned),
            ("hasNext", has_next),
        ],
    )
}

/// A `jobView` request.
pub fn job_view_request(s: &mut Source) -> Val {
    let workers = list(s, 4, job_worker);
    object(s, vec![("workers", Some(workers))])
}

/// A `skipsStart` request.
pub fn skip_start_request(s: &mut Source) -> Val {
    let is_done = bool_(s);
    let reset = maybe(s, bool_);
    let cursor_given = maybe(s, bool_);
    let dry_run = maybe(s, bool_);
    object(
        s,
        vec![
            ("isDone", Some(is_done)),
            ("reset", reset),
            ("cursorGiven", cursor_given),
            ("dryRun", dry_run),
        ],
    )
}

/// A `dryRunVerdict` request.
pub fn dry_run_request(s: &mut Source) -> Val {
    let end = word(
        s,
        &["rolledBack", "threw", "returnedBatch", "returnedOther"],
    );
    let peer_protocol = maybe(s, bool_);
    let on_trial = maybe(s, bool_);
    object(
        s,
        vec![
            ("end", Some(end)),
            ("peerProtocol", peer_protocol),
            ("onTrial", on_trial),
        ],
    )
}
