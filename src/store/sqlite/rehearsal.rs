//! A rehearsal's sends, on its store in memory: read when due and their results written in
//! one update each, without the claim, lease and in-flight mark that `crier run` commits
//! around every request. A rehearsal is one process on a store nobody else opens, with
//! recording connectors: nothing can crash or take a send between reading it and its
//! result, so the row ends as the service's claim, mark and result would have left it.
//! Never used on a service's store.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::runs::{claimed_row, outbox_row};
use crate::store::model::{Millis, OutboxId, OutboxOutcome, OutboxRow};
use crate::store::{StoreError, StoreResult};

impl SqliteStore {
    /// The pending sends due at `now`, earliest first (by due time, then id), at most
    /// `limit`; each row's `attempts` counts the attempt about to be made. Nothing changes.
    pub fn rehearsal_due(&self, now: Millis, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("rehearsal/due"))?;
        let rows = query.query_map(params![now, limit as i64], claimed_row)?;
        rows.map(|row| outbox_row(row?)).collect()
    }

    /// Records the outcomes of pending sends read by `rehearsal_due` and settles the runs
    /// they finish, in one transaction. `requests_left`: whether each send's request was
    /// made (its first attempt is marked), or the send stopped before it (a pause held it,
    /// a limit deferred it). A send no longer pending is an error: nothing is written
    /// outside a group; inside one, the rehearsal ends on it (`rehearsal_write`).
    pub fn record_rehearsal_outcomes(
        &self,
        outcomes: &[(OutboxId, OutboxOutcome)],
        requests_left: bool,
        now: Millis,
    ) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.rehearsal_write(|tx| {
            let mut sent = tx.prepare_cached(sql!("rehearsal/sent"))?;
            let mut retry = tx.prepare_cached(sql!("rehearsal/retry"))?;
            let mut failed = tx.prepare_cached(sql!("rehearsal/failed"))?;
            let mut held = tx.prepare_cached(sql!("rehearsal/held"))?;
            let mut deferred = tx.prepare_cached(sql!("rehearsal/deferred"))?;
            let mut attempt = tx.prepare_cached(sql!("runs/insert_attempt"))?;
            let get = |row: &rusqlite::Row| row.get::<_, i64>(0);
            let mut runs = Vec::with_capacity(outcomes.len());
            for (id, outcome) in outcomes {
                let run_id = match outcome {
                    OutboxOutcome::Sent { remote_id } => sent
                        .query_row(params![id, remote_id, now], get)
                        .optional()?,
                    OutboxOutcome::Retry {
                        at,
                        error,
                        check_first,
                    } => {
                        let run_id = retry
                            .query_row(params![id, at, error, check_first, now], get)
                            .optional()?;
                        if run_id.is_some() {
                            attempt.execute(params![id, now, "retry", error])?;
                        }
                        run_id
                    }
                    OutboxOutcome::Failed { error } => {
                        let run_id = failed.query_row(params![id, error, now], get).optional()?;
                        if run_id.is_some() {
                            attempt.execute(params![id, now, "failed", error])?;
                        }
                        run_id
                    }
                    OutboxOutcome::Held { note } => {
                        held.query_row(params![id, note, now], get).optional()?
                    }
                    OutboxOutcome::Deferred { at, note } => deferred
                        .query_row(params![id, at, note, now, requests_left], get)
                        .optional()?,
                };
                let run_id = run_id.ok_or_else(|| {
                    StoreError::Backend(format!(
                        "send {id} was no longer pending when its rehearsed result came"
                    ))
                })?;
                runs.push(run_id);
            }
            runs.sort_unstable();
            runs.dedup();
            for run_id in runs {
                settle_from_sends(tx, run_id, now)?;
            }
            Ok(())
        })
    }
}

/// Settles a run as `runs/settle_run` does, reading its sends once (most runs have one)
/// instead of asking the statement's several questions of them: a run with a send still
/// to go stays running; otherwise it failed if a send failed (the first failure's
/// `account: error` its reason), was skipped if none was sent and some were (the first
/// one's note its reason), and succeeded otherwise, keeping its reason.
fn settle_from_sends(tx: &rusqlite::Connection, run_id: i64, now: Millis) -> StoreResult<()> {
    let mut sends = tx.prepare_cached(sql!("rehearsal/run_sends"))?;
    let mut rows = sends.query(params![run_id])?;
    let (mut failed, mut skipped, mut sent) = (false, false, false);
    let (mut failure, mut skip_note) = (None::<String>, None::<String>);
    while let Some(row) = rows.next()? {
        let state: String = row.get(0)?;
        match state.as_str() {
            "pending" | "sending" | "held" => return Ok(()),
            "failed" if !failed => {
                failed = true;
                // SQL's `account || ': ' || error`: nothing when the error is NULL.
                let account: String = row.get(1)?;
                failure = row
                    .get::<_, Option<String>>(2)?
                    .map(|error| format!("{account}: {error}"));
            }
            "skipped" if !skipped => {
                skipped = true;
                skip_note = row.get(3)?;
            }
            "sent" => sent = true,
            _ => {}
        }
    }
    let (state, reason) = if failed {
        ("failed", failure.or(if sent { None } else { skip_note }))
    } else if skipped && !sent {
        ("skipped", skip_note)
    } else {
        ("succeeded", None)
    };
    tx.prepare_cached(sql!("rehearsal/settle"))?
        .execute(params![run_id, state, reason, now])?;
    Ok(())
}
