//! Switching a live deployment from @convex-dev/migrations.
//!
//! The component keeps its mount name, so Convex keeps the peer's rows in the
//! component's `migrations` table across the switch. Each such row becomes
//! one worker here, decided by [`adopt`]: what the peer completed stays
//! completed, what it left in progress resumes from its cursor, what failed
//! or was canceled shows so and retries from its cursor.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::job::HopState;
use crate::machine::{Failure, FailureKind, WorkerState, WorkerStatus};
use crate::policy::js_number_string;
use crate::policy::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_SIZE};
use crate::EngineError;

/// A row @convex-dev/migrations left in the component's `migrations` table.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PeerRow {
    pub name: String,
    pub is_done: bool,
    /// The peer's saved cursor; null before its first batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Documents the peer processed; a number as JavaScript holds it.
    pub processed: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    pub latest_start: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub latest_end: Option<f64>,
    /// The state of the row's `workerId` job, when it has one that still exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub job: Option<HopState>,
}

/// What a peer row means here.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PeerAdoption {
    /// The worker state that carries the peer's progress on.
    pub state: WorkerState,
    /// The peer's job is pending or running: it is the old code's next
    /// `lib:migrate` hop and must be stopped (or, if running now, ignored)
    /// so no document is processed twice.
    pub stop_job: bool,
}

/// The worker that continues what the peer's row recorded.
///
/// The peer derives a row's state the same way: done wins, then an error or
/// a failed job, then a canceled job, then a live job; a row with none of
/// these stopped without error (the peer shows it as `unknown`) and is
/// resumable from its cursor.
pub fn adopt(row: &PeerRow) -> Result<PeerAdoption, EngineError> {
    let processed = row.processed;
    if !(processed.is_finite() && processed >= 0.0 && processed.fract() == 0.0) {
        return Err(EngineError::InvalidInput {
            message: format!(
                "the stored row of migration {} has processed = {}, not a count of documents",
                row.name,
                js_number_string(processed)
            ),
        });
    }
    let live = matches!(row.job, Some(HopState::Pending | HopState::InProgress));
    let ended = row.latest_end.unwrap_or(row.latest_start);
    let failed = row.error.is_some() || row.job == Some(HopState::Failed);
    let status = if row.is_done {
        WorkerStatus::Success
    } else if failed {
        WorkerStatus::Failed
    } else if row.job == Some(HopState::Canceled) {
        WorkerStatus::Canceled
    } else if live {
        WorkerStatus::InProgress
    } else {
        WorkerStatus::Paused
    };
    let cursor = if row.is_done {
        None
    } else {
        row.cursor.clone()
    };
    let error = (status == WorkerStatus::Failed).then(|| Failure {
        kind: FailureKind::User,
        message: row
            .error
            .clone()
            .unwrap_or_else(|| format!("the scheduled batch of {} failed", row.name)),
        document_id: None,
        cursor: cursor.clone(),
        batch_size: DEFAULT_BATCH_SIZE,
        at_ms: ended,
    });
    let stopped = !matches!(status, WorkerStatus::InProgress);
    Ok(PeerAdoption {
        state: WorkerState {
            status,
            cursor,
            batch_size: DEFAULT_BATCH_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            adaptive: true,
            // Checked above: a whole, non-negative count that f64 holds exactly.
            processed: processed as u64,
            // The peer does not count changed documents or batches.
            updated: 0,
            batches: 0,
            cheap_streak: 0,
            occ_retries: 0,
            error,
            started_ms: row.latest_start,
            ended_ms: stopped.then_some(ended),
            last_batch_ms: None,
            generation: 0,
            one_batch_only: false,
            range: None,
            // The peer kept no position; the next batch reports one.
            position: None,
            last_hop_died: None,
            next_hop: None,
            last_batch_processed: None,
            fan_out: None,
            size_sent: None,
        },
        stop_job: live && !row.is_done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> PeerRow {
        PeerRow {
            name: "migrations:setDefault".into(),
            is_done: false,
            cursor: Some("[1719412234000,\"k97d\"]".into()),
            processed: 200.0,
            error: None,
            latest_start: 1_000.0,
            latest_end: None,
            job: None,
        }
    }

    #[test]
    fn adopt_keeps_a_completed_migration_completed_with_its_count() {
        let a = adopt(&PeerRow {
            is_done: true,
            latest_end: Some(2_000.0),
            ..row()
        })
        .unwrap();
        assert_eq!(a.state.status, WorkerStatus::Success);
        assert_eq!(a.state.processed, 200);
        assert_eq!(a.state.cursor, None);
        assert_eq!(a.state.ended_ms, Some(2_000.0));
        assert!(!a.stop_job);
    }

    #[test]
    fn adopt_resumes_a_live_peer_chain_from_its_cursor_and_stops_the_old_hop() {
        for job in [HopState::Pending, HopState::InProgress] {
            let a = adopt(&PeerRow {
                job: Some(job),
                ..row()
            })
            .unwrap();
            assert_eq!(a.state.status, WorkerStatus::InProgress);
            assert_eq!(a.state.cursor, row().cursor);
            assert!(a.stop_job);
        }
    }

    #[test]
    fn adopt_shows_a_failure_with_the_peers_error_and_keeps_the_cursor() {
        let a = adopt(&PeerRow {
            error: Some("boom".into()),
            ..row()
        })
        .unwrap();
        assert_eq!(a.state.status, WorkerStatus::Failed);
        assert_eq!(a.state.error.as_ref().unwrap().message, "boom");
        assert_eq!(a.state.cursor, row().cursor);
        let b = adopt(&PeerRow {
            job: Some(HopState::Failed),
            ..row()
        })
        .unwrap();
        assert_eq!(b.state.status, WorkerStatus::Failed);
        assert!(b
            .state
            .error
            .unwrap()
            .message
            .contains("migrations:setDefault"));
    }

    #[test]
    fn adopt_shows_a_canceled_job_as_canceled() {
        let a = adopt(&PeerRow {
            job: Some(HopState::Canceled),
            ..row()
        })
        .unwrap();
        assert_eq!(a.state.status, WorkerStatus::Canceled);
        assert!(!a.stop_job);
    }

    #[test]
    fn adopt_treats_a_row_without_a_live_job_as_paused_at_its_cursor() {
        for job in [None, Some(HopState::Success)] {
            let a = adopt(&PeerRow { job, ..row() }).unwrap();
            assert_eq!(a.state.status, WorkerStatus::Paused);
            assert_eq!(a.state.cursor, row().cursor);
        }
    }

    #[test]
    fn adopt_refuses_a_processed_count_that_is_not_one() {
        for processed in [-1.0, 2.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                adopt(&PeerRow { processed, ..row() }),
                Err(EngineError::InvalidInput { .. })
            ));
        }
    }
}
