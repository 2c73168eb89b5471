//! The machine of a whole versioned run: a plan of migrations executed one
//! after another.
//!
//! Each item of a run is itself a migration job driven by the worker machine
//! ([`crate::machine`]); this machine only decides which item runs, when the
//! run is over, and what a failure or a cancel does to the rest. Items run
//! strictly in order because later migrations may depend on earlier ones.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::history::Direction;
use crate::EngineError;

/// Where a run stands. The Convex validator of the run row lists exactly
/// these names.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RunStatus {
    /// An item is running, or the run is about to begin.
    Running,
    /// Every item completed.
    Succeeded,
    /// An item failed; the run can be resumed.
    Failed,
    /// Someone stopped the run; it can be resumed.
    Canceled,
}

impl RunStatus {
    /// The serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }
}

/// Where one item of a run stands.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ItemStatus {
    /// Not started yet.
    Pending,
    /// Its workers are running.
    Running,
    /// Every document was migrated.
    Completed,
    /// It failed; the run stopped here.
    Failed,
    /// The run was canceled while it ran.
    Canceled,
}

/// One migration of a run, with its own outcome for the release record.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunItem {
    /// The migration's id.
    pub id: String,
    /// Which step of the migration the item runs.
    pub direction: Direction,
    /// Where this item stands.
    pub status: ItemStatus,
    /// Documents visited, as reported when the item finished.
    #[ts(type = "number")]
    pub processed: u64,
    /// Documents changed, as reported when the item finished.
    #[ts(type = "number")]
    pub updated: u64,
    /// When the item first started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub started_ms: Option<f64>,
    /// When the item stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ended_ms: Option<f64>,
    /// Why the item failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

/// The stored state of one run.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunState {
    /// Where the run stands.
    pub status: RunStatus,
    /// The plan, in execution order.
    pub items: Vec<RunItem>,
    /// Index of the item running, or the one that stopped the run; absent
    /// before `Begin` and after success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current: Option<u32>,
    /// When the run was created.
    pub started_ms: f64,
    /// When the run stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ended_ms: Option<f64>,
    /// Why the run failed, naming the migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

/// Something that happened to a run.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum RunEvent {
    /// Start the first item.
    Begin {
        /// Current time (ms since the epoch).
        now_ms: f64,
    },
    /// The current item's workers all succeeded.
    ItemFinished {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// The item's total documents visited.
        #[ts(type = "number")]
        processed: u64,
        /// The item's total documents changed.
        #[ts(type = "number")]
        updated: u64,
    },
    /// The current item failed.
    ItemFailed {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// What went wrong.
        message: String,
        /// Documents the item visited before it failed.
        #[serde(default)]
        #[ts(optional, as = "Option<f64>")]
        processed: u64,
        /// Documents the item changed before it failed.
        #[serde(default)]
        #[ts(optional, as = "Option<f64>")]
        updated: u64,
    },
    /// Someone asked the run to stop.
    CancelRequested {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// Documents the current item visited before it stopped.
        #[serde(default)]
        #[ts(optional, as = "Option<f64>")]
        processed: u64,
        /// Documents the current item changed before it stopped.
        #[serde(default)]
        #[ts(optional, as = "Option<f64>")]
        updated: u64,
    },
}

impl RunEvent {
    fn name(&self) -> &'static str {
        match self {
            RunEvent::Begin { .. } => "begin",
            RunEvent::ItemFinished { .. } => "itemFinished",
            RunEvent::ItemFailed { .. } => "itemFailed",
            RunEvent::CancelRequested { .. } => "cancelRequested",
        }
    }
}

/// What the component must do after storing the new run state.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum RunAction {
    /// Start (or resume) the workers of item `index`.
    StartItem {
        /// Position in the plan.
        index: u32,
        /// The migration's id.
        id: String,
        /// Which step of the migration to run.
        direction: Direction,
    },
    /// The run succeeded; record the release.
    Complete,
    /// The run failed; record the release with the error.
    Fail,
    /// The run was canceled; stop the current item's workers.
    Stop,
    /// Nothing changed and nothing is to be done.
    Nothing {
        /// Why, for logs.
        reason: String,
    },
}

/// A run step's result: the state to store and the action to carry out.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunTransition {
    /// The run's new state (the input, unchanged, with `Nothing`).
    pub state: RunState,
    /// What to do next.
    pub action: RunAction,
    /// Whether the run holds the deployment's one active-run slot (the
    /// `runs` table's `active` index): while it is running.
    pub active: bool,
}

impl RunTransition {
    fn new(state: RunState, action: RunAction) -> Self {
        let active = state.status == RunStatus::Running;
        RunTransition {
            state,
            action,
            active,
        }
    }
}

/// A run over `items` (id, direction), every item pending, not yet begun.
pub fn new_run(items: Vec<(String, Direction)>, now_ms: f64) -> RunState {
    RunState {
        status: RunStatus::Running,
        items: items
            .into_iter()
            .map(|(id, direction)| RunItem {
                id,
                direction,
                status: ItemStatus::Pending,
                processed: 0,
                updated: 0,
                started_ms: None,
                ended_ms: None,
                error: None,
            })
            .collect(),
        current: None,
        started_ms: now_ms,
        ended_ms: None,
        error: None,
    }
}

/// Advances a run by one event.
///
/// Control events that do not apply (begin twice, cancel a finished run)
/// answer `Nothing`. Item events that do not match the state (an item
/// finishing while none runs) are refused with `InvalidTransition`: they mean the caller's view of the run is stale.
pub fn run_step(state: &RunState, event: &RunEvent) -> Result<RunTransition, EngineError> {
    match event {
        RunEvent::Begin { now_ms } => {
            if state.status != RunStatus::Running || state.current.is_some() {
                return Ok(nothing(state, "the run has already begun"));
            }
            Ok(start_from(state.clone(), 0, *now_ms))
        }
        RunEvent::ItemFinished {
            now_ms,
            processed,
            updated,
        } => {
            let (mut next, index) = running_item(state, event)?;
            if let Some(item) = next.items.get_mut(index) {
                item.status = ItemStatus::Completed;
                item.processed = *processed;
                item.updated = *updated;
                item.ended_ms = Some(*now_ms);
            }
            Ok(start_from(next, index.saturating_add(1), *now_ms))
        }
        RunEvent::ItemFailed {
            now_ms,
            message,
            processed,
            updated,
        } => {
            let (mut next, index) = running_item(state, event)?;
            let mut run_error = message.clone();
            if let Some(item) = next.items.get_mut(index) {
                item.status = ItemStatus::Failed;
                item.processed = *processed;
                item.updated = *updated;
                item.ended_ms = Some(*now_ms);
                item.error = Some(message.clone());
                run_error = format!(
                    "migration {} ({}) failed: {message}",
                    item.id, item.direction
                );
            }
            next.status = RunStatus::Failed;
            next.ended_ms = Some(*now_ms);
            next.error = Some(run_error);
            Ok(RunTransition::new(next, RunAction::Fail))
        }
        RunEvent::CancelRequested {
            now_ms,
            processed,
            updated,
        } => {
            if state.status != RunStatus::Running {
                return Ok(nothing(state, "the run is not running"));
            }
            let mut next = state.clone();
            if let Some(item) = current_item_mut(&mut next) {
                if item.status == ItemStatus::Running {
                    item.status = ItemStatus::Canceled;
                    item.processed = *processed;
                    item.updated = *updated;
                    item.ended_ms = Some(*now_ms);
                }
            }
            next.status = RunStatus::Canceled;
            next.ended_ms = Some(*now_ms);
            Ok(RunTransition::new(next, RunAction::Stop))
        }
    }
}

/// An event a migration of the run reports about itself (`item`, its id):
/// one that is no longer the run's running item (the run ended or moved
/// on) changes nothing; otherwise as [`run_step`].
pub fn report(
    state: &RunState,
    item: &str,
    event: &RunEvent,
) -> Result<RunTransition, EngineError> {
    let current = state
        .current
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| state.items.get(i));
    match current {
        Some(c)
            if state.status == RunStatus::Running
                && c.status == ItemStatus::Running
                && c.id == item =>
        {
            run_step(state, event)
        }
        _ => Ok(nothing(
            state,
            "the migration is not the run's running item",
        )),
    }
}

fn nothing(state: &RunState, reason: &str) -> RunTransition {
    RunTransition::new(
        state.clone(),
        RunAction::Nothing {
            reason: reason.into(),
        },
    )
}

fn current_item_mut(state: &mut RunState) -> Option<&mut RunItem> {
    let index = usize::try_from(state.current?).ok()?;
    state.items.get_mut(index)
}

/// The state to change and the index of its running item, or the error
/// saying why an item event does not fit.
fn running_item(state: &RunState, event: &RunEvent) -> Result<(RunState, usize), EngineError> {
    let refuse = || EngineError::InvalidTransition {
        state: state.status.as_str().into(),
        event: event.name().into(),
    };
    if state.status != RunStatus::Running {
        return Err(refuse());
    }
    let index = state
        .current
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(refuse)?;
    match state.items.get(index) {
        Some(item) if item.status == ItemStatus::Running => Ok((state.clone(), index)),
        _ => Err(refuse()),
    }
}

/// Starts the first item at or after `from` that is not completed, or
/// completes the run when none is left.
fn start_from(mut state: RunState, from: usize, now_ms: f64) -> RunTransition {
    let started = state
        .items
        .iter_mut()
        .enumerate()
        .skip(from)
        .find(|(_, item)| item.status != ItemStatus::Completed)
        .and_then(|(i, item)| {
            let index = u32::try_from(i).ok()?;
            item.status = ItemStatus::Running;
            item.started_ms = Some(item.started_ms.unwrap_or(now_ms));
            item.ended_ms = None;
            item.error = None;
            Some(RunAction::StartItem {
                index,
                id: item.id.clone(),
                direction: item.direction,
            })
        });
    match started {
        Some(action) => {
            if let RunAction::StartItem { index, .. } = &action {
                state.current = Some(*index);
            }
            state.status = RunStatus::Running;
            RunTransition::new(state, action)
        }
        None => {
            state.status = RunStatus::Succeeded;
            state.current = None;
            state.ended_ms = Some(now_ms);
            RunTransition::new(state, RunAction::Complete)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RunState {
        new_run(
            vec![
                ("20260101_000000_a".into(), Direction::Up),
                ("20260102_000000_b".into(), Direction::Up),
            ],
            1_000.0,
        )
    }

    fn go(state: &RunState, event: RunEvent) -> RunTransition {
        run_step(state, &event).unwrap()
    }

    fn begun() -> RunState {
        go(&plan(), RunEvent::Begin { now_ms: 1_000.0 }).state
    }

    fn failed() -> RunState {
        go(
            &begun(),
            RunEvent::ItemFailed {
                now_ms: 2_000.0,
                message: "boom".into(),
                processed: 7,
                updated: 3,
            },
        )
        .state
    }

    fn canceled() -> RunState {
        go(
            &begun(),
            RunEvent::CancelRequested {
                now_ms: 2_000.0,
                processed: 0,
                updated: 0,
            },
        )
        .state
    }

    fn succeeded() -> RunState {
        let mut s = begun();
        for _ in 0..2 {
            s = go(
                &s,
                RunEvent::ItemFinished {
                    now_ms: 3_000.0,
                    processed: 10,
                    updated: 5,
                },
            )
            .state;
        }
        s
    }

    #[test]
    fn a_run_holds_the_active_slot_only_while_it_runs() {
        let begin = go(&plan(), RunEvent::Begin { now_ms: 1_000.0 });
        assert!(begin.active);
        let done = RunEvent::ItemFinished {
            now_ms: 3_000.0,
            processed: 1,
            updated: 1,
        };
        let next = go(&begin.state, done.clone());
        assert!(next.active, "one item is still to run");
        let last = go(&next.state, done);
        assert_eq!(last.state.status, RunStatus::Succeeded);
        assert!(!last.active);
        let fail = RunEvent::ItemFailed {
            now_ms: 2_000.0,
            message: "boom".into(),
            processed: 0,
            updated: 0,
        };
        assert!(!go(&begun(), fail.clone()).active);
        let cancel = RunEvent::CancelRequested {
            now_ms: 2_000.0,
            processed: 0,
            updated: 0,
        };
        assert!(!go(&begun(), cancel.clone()).active);
        // An event that changes nothing leaves an ended run out of the slot.
        assert!(!go(&failed(), cancel).active);
    }

    #[test]
    fn new_run_has_every_item_pending() {
        let s = plan();
        assert_eq!(s.status, RunStatus::Running);
        assert_eq!(s.current, None);
        assert!(s.items.iter().all(|i| i.status == ItemStatus::Pending));
    }

    #[test]
    fn begin_starts_first_item() {
        let t = go(&plan(), RunEvent::Begin { now_ms: 1_500.0 });
        assert_eq!(t.state.current, Some(0));
        assert_eq!(t.state.items[0].status, ItemStatus::Running);
        assert_eq!(t.state.items[0].started_ms, Some(1_500.0));
        assert_eq!(
            t.action,
            RunAction::StartItem {
                index: 0,
                id: "20260101_000000_a".into(),
                direction: Direction::Up
            }
        );
    }

    #[test]
    fn begin_of_empty_run_succeeds_at_once() {
        let t = go(&new_run(vec![], 0.0), RunEvent::Begin { now_ms: 5.0 });
        assert_eq!(t.state.status, RunStatus::Succeeded);
        assert_eq!(t.state.ended_ms, Some(5.0));
        assert_eq!(t.action, RunAction::Complete);
    }

    #[test]
    fn begin_twice_does_nothing() {
        let s = begun();
        let t = go(&s, RunEvent::Begin { now_ms: 9.0 });
        assert_eq!(t.state, s);
        assert!(matches!(t.action, RunAction::Nothing { .. }));
    }

    #[test]
    fn item_finished_starts_next_item() {
        let t = go(
            &begun(),
            RunEvent::ItemFinished {
                now_ms: 2_000.0,
                processed: 10,
                updated: 4,
            },
        );
        assert_eq!(t.state.items[0].status, ItemStatus::Completed);
        assert_eq!(t.state.items[0].processed, 10);
        assert_eq!(t.state.items[0].updated, 4);
        assert_eq!(t.state.items[0].ended_ms, Some(2_000.0));
        assert_eq!(t.state.current, Some(1));
        assert!(matches!(t.action, RunAction::StartItem { index: 1, .. }));
    }

    #[test]
    fn last_item_finished_completes_run() {
        let s = succeeded();
        assert_eq!(s.status, RunStatus::Succeeded);
        assert_eq!(s.current, None);
        assert_eq!(s.ended_ms, Some(3_000.0));
        assert!(s.items.iter().all(|i| i.status == ItemStatus::Completed));
    }

    #[test]
    fn item_finished_without_running_item_is_refused() {
        for s in [plan(), failed(), canceled(), succeeded()] {
            let e = RunEvent::ItemFinished {
                now_ms: 0.0,
                processed: 0,
                updated: 0,
            };
            assert!(matches!(
                run_step(&s, &e),
                Err(EngineError::InvalidTransition { .. })
            ));
            let e = RunEvent::ItemFailed {
                now_ms: 0.0,
                message: "x".into(),
                processed: 0,
                updated: 0,
            };
            assert!(matches!(
                run_step(&s, &e),
                Err(EngineError::InvalidTransition { .. })
            ));
        }
    }

    #[test]
    fn item_failed_fails_item_and_run() {
        let s = failed();
        assert_eq!(s.status, RunStatus::Failed);
        assert_eq!(s.items[0].status, ItemStatus::Failed);
        assert_eq!(s.items[0].error.as_deref(), Some("boom"));
        assert_eq!(s.items[1].status, ItemStatus::Pending);
        assert_eq!(s.current, Some(0));
        assert_eq!(s.ended_ms, Some(2_000.0));
        assert_eq!(
            s.error.as_deref(),
            Some("migration 20260101_000000_a (up) failed: boom")
        );
    }

    #[test]
    fn cancel_stops_current_item_and_run() {
        let t = go(
            &begun(),
            RunEvent::CancelRequested {
                now_ms: 2_000.0,
                processed: 0,
                updated: 0,
            },
        );
        assert_eq!(t.state.status, RunStatus::Canceled);
        assert_eq!(t.state.items[0].status, ItemStatus::Canceled);
        assert_eq!(t.state.items[1].status, ItemStatus::Pending);
        assert_eq!(t.action, RunAction::Stop);
    }

    #[test]
    fn cancel_before_begin_cancels_run_only() {
        let t = go(
            &plan(),
            RunEvent::CancelRequested {
                now_ms: 2_000.0,
                processed: 0,
                updated: 0,
            },
        );
        assert_eq!(t.state.status, RunStatus::Canceled);
        assert!(t
            .state
            .items
            .iter()
            .all(|i| i.status == ItemStatus::Pending));
    }

    #[test]
    fn cancel_of_stopped_run_does_nothing() {
        for s in [failed(), canceled(), succeeded()] {
            let t = go(
                &s,
                RunEvent::CancelRequested {
                    now_ms: 9_000.0,
                    processed: 0,
                    updated: 0,
                },
            );
            assert_eq!(t.state, s);
            assert!(matches!(t.action, RunAction::Nothing { .. }));
        }
    }

    #[test]
    fn run_status_names_in_errors_match_serialization() {
        for s in [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Canceled,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }

    #[test]
    fn report_of_a_migration_that_is_not_running_in_the_run_changes_nothing() {
        let begun = run_step(&plan(), &RunEvent::Begin { now_ms: 1.0 })
            .unwrap()
            .state;
        let finished = RunEvent::ItemFinished {
            now_ms: 2.0,
            processed: 1,
            updated: 1,
        };
        let other = report(&begun, "20260102_000000_b", &finished).unwrap();
        assert!(matches!(other.action, RunAction::Nothing { .. }));
        assert_eq!(other.state, begun);
        let own = report(&begun, &begun.items[0].id.clone(), &finished).unwrap();
        assert!(matches!(own.action, RunAction::StartItem { index: 1, .. }));
        let canceled = run_step(
            &begun,
            &RunEvent::CancelRequested {
                now_ms: 3.0,
                processed: 0,
                updated: 0,
            },
        )
        .unwrap()
        .state;
        let late = report(&canceled, &begun.items[0].id.clone(), &finished).unwrap();
        assert!(matches!(late.action, RunAction::Nothing { .. }));
    }

    #[test]
    fn run_events_use_camel_case_tags() {
        let e: RunEvent = serde_json::from_value(
            serde_json::json!({"type": "itemFinished", "nowMs": 1.0, "processed": 2, "updated": 1}),
        )
        .unwrap();
        assert_eq!(
            e,
            RunEvent::ItemFinished {
                now_ms: 1.0,
                processed: 2,
                updated: 1
            }
        );
        assert_eq!(
            serde_json::to_value(RunAction::StartItem {
                index: 0,
                id: "x".into(),
                direction: Direction::Down
            })
            .unwrap(),
            serde_json::json!({"type": "startItem", "index": 0, "id": "x", "direction": "down"})
        );
    }
}
