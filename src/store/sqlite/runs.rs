//! Runs, their steps and the outbox: commits of fires, claims, results, waiting steps.

use rusqlite::{Connection, OptionalExtension, params};

use super::fires::write_batches;
use super::{SqliteStore, from_json, to_json};
use crate::connectors::OutgoingPost;
use crate::store::model::*;
use crate::store::{RunStore, StoreResult};

const CLAIM_OUTBOX: &str = sql!("runs/claim_outbox");
const SETTLE_RUN: &str = sql!("runs/settle_run");

impl RunStore for SqliteStore {
    fn release_memory(&self) {
        if let Err(error) = self.lock().release_memory() {
            tracing::debug!("SQLite kept its cache: {error}");
        }
    }

    fn hook_receipt(&self, hook: &str, key: &str) -> StoreResult<Option<HookReceipt>> {
        let connection = self.lock();
        let found = connection
            .prepare_cached(sql!("runs/hook_receipt"))?
            .query_row(params![hook, key], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?;
        found
            .map(|(received_at, runs)| {
                Ok(HookReceipt {
                    hook: hook.to_string(),
                    key: key.to_string(),
                    received_at,
                    runs: from_json(&runs)?,
                })
            })
            .transpose()
    }

    fn commit(&self, batch: &Batch) -> StoreResult<Vec<RunId>> {
        self.transaction(|tx| Ok(write_batches(tx, std::slice::from_ref(batch))?.remove(0)))
    }

    fn commit_all(&self, batches: &[Batch]) -> StoreResult<Vec<Vec<RunId>>> {
        self.transaction(|tx| write_batches(tx, batches))
    }

    fn recover_in_doubt(&self, now: Millis) -> StoreResult<Recovered> {
        self.transaction(|tx| recover(tx, now, None))
    }

    fn recover_claims_of(&self, owner_prefix: &str, now: Millis) -> StoreResult<Recovered> {
        self.transaction(|tx| recover(tx, now, Some(owner_prefix)))
    }

    fn claim_outbox(&self, claim: &Claim, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        self.transaction(|tx| {
            let mut claimed = if claim.skip_accounts.is_empty() {
                let mut statement = tx.prepare_cached(CLAIM_OUTBOX)?;
                let rows = statement.query_map(
                    params![
                        claim.now,
                        limit as i64,
                        claim.run,
                        claim.owner,
                        claim.lease_until,
                        "[]"
                    ],
                    claimed_row,
                )?;
                rows.collect::<Result<Vec<_>, _>>()?
            } else {
                // Leaving accounts out, the due sends are read account by account: one
                // query over all of them would walk every due send of the left-out ones.
                let ids = due_leaving_out(tx, claim, limit)?;
                let mut statement = tx.prepare_cached(sql!("runs/claim_ids"))?;
                let rows = statement.query_map(
                    params![claim.now, claim.owner, claim.lease_until, to_json(&ids)],
                    claimed_row,
                )?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            claimed.sort_by_key(|row| row.0.0);
            claimed.into_iter().map(outbox_row).collect()
        })
    }

    fn mark_in_flight(
        &self,
        owner: &str,
        ids: &[OutboxId],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|tx| mark(tx, owner, ids, now))
    }

    fn renew_claims(
        &self,
        owner: &str,
        ids: &[OutboxId],
        lease_until: Millis,
        now: Millis,
    ) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.transaction(|tx| {
            let mut renew = tx.prepare_cached(sql!("runs/renew_claim"))?;
            let mut renewed = 0;
            for id in ids {
                renewed += renew.execute(params![id, owner, lease_until, now])?;
            }
            Ok(renewed)
        })
    }

    fn send_handle(&self, id: OutboxId) -> StoreResult<Option<String>> {
        let connection = self.lock();
        let handle = connection
            .prepare_cached(sql!("runs/send_handle"))?
            .query_row(params![id], |row| row.get::<_, Option<String>>(0))
            .optional()?;
        Ok(handle.flatten())
    }

    fn keep_send_handle(
        &self,
        owner: &str,
        id: OutboxId,
        handle: Option<&str>,
        now: Millis,
    ) -> StoreResult<bool> {
        let connection = self.lock();
        let kept = connection
            .prepare_cached(sql!("runs/keep_send_handle"))?
            .execute(params![id, owner, handle, now])?;
        Ok(kept == 1)
    }

    fn finish_outbox(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|tx| finish(tx, owner, outcomes, now))
    }

    fn finish_and_mark(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        marks: &[OutboxId],
        now: Millis,
    ) -> StoreResult<(Vec<OutboxId>, Vec<OutboxId>)> {
        if outcomes.is_empty() && marks.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        self.transaction(|tx| {
            Ok((
                finish(tx, owner, outcomes, now)?,
                mark(tx, owner, marks, now)?,
            ))
        })
    }

    fn latest_remote_id(&self, key: &ItemKey, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("runs/latest_remote_id"))?;
        let mut rows = query.query(params![key.playbook, key.item, account])?;
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => None,
        })
    }

    fn next_outbox_due(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("runs/next_outbox_due"))?;
        Ok(query.query_row([], |row| row.get(0))?)
    }

    fn waiting_steps_due(&self, now: Millis) -> StoreResult<Vec<WaitingStep>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("runs/waiting_steps_due"))?;
        let rows = query.query_map([now], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?;
        let mut waiting = Vec::new();
        for row in rows {
            let (run_id, playbook, item, fire_at, step, steps) = row?;
            waiting.push(WaitingStep {
                run_id,
                key: ItemKey::new(playbook, item),
                fire_at,
                step: step as usize,
                steps: from_json(&steps)?,
            });
        }
        Ok(waiting)
    }

    fn next_wake(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("runs/next_wake"))?;
        Ok(query.query_row([], |row| row.get(0))?)
    }

    fn advance_run(&self, advance: &RunAdvance, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            let mut set_step = tx.prepare_cached(sql!("runs/set_step"))?;
            let changed = tx
                .prepare_cached(sql!("runs/close_step"))?
                .execute(params![
                    advance.run_id,
                    advance.step as i64,
                    advance.outcome.as_str(),
                    advance.reason,
                    now
                ])?;
            if changed == 0 {
                return Ok(()); // already moved on (a decision and a timeout raced)
            }
            for (index, state) in &advance.passed {
                set_step.execute(params![
                    advance.run_id,
                    *index as i64,
                    state.as_str(),
                    Option::<String>::None,
                    Option::<i64>::None,
                    now
                ])?;
            }
            if let Some(wake_at) = advance.wake_at {
                set_step.execute(params![
                    advance.run_id,
                    advance.current_step as i64,
                    StepState::Waiting.as_str(),
                    Option::<String>::None,
                    wake_at,
                    now
                ])?;
            }
            let (state, reason) = match (&advance.finish, advance.wake_at) {
                (Some((state, reason)), _) => (*state, Some(reason.clone())),
                (None, Some(_)) => (RunState::Waiting, None),
                (None, None) => (RunState::Running, None),
            };
            tx.prepare_cached(sql!("runs/set_run"))?.execute(params![
                advance.run_id,
                advance.current_step as i64,
                state.as_str(),
                reason,
                now
            ])?;
            insert_outbox(tx, advance.run_id, &advance.outbox, now)?;
            settle(tx, advance.run_id, now)?;
            Ok(())
        })
    }

    fn send_slots(&self, since: Millis, now: Millis) -> StoreResult<Vec<SendSlot>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("runs/send_slots"))?;
        let rows = query.query_map(params![since, now], |row| {
            Ok(SendSlot {
                id: row.get(0)?,
                account: row.get(1)?,
                playbook: row.get(2)?,
                at: row.get(3)?,
            })
        })?;
        let mut slots = rows.collect::<Result<Vec<_>, _>>()?;
        // Ordered here: in SQL, the order would make SQLite walk the outbox by id.
        slots.sort_by_key(|slot| slot.id);
        Ok(slots)
    }
}

/// Records `outcomes` of `owner`'s claims and settles the runs they finish; returns the
/// sends no longer claimed by `owner` (left alone).
fn finish(
    tx: &Connection,
    owner: &str,
    outcomes: &[(OutboxId, OutboxOutcome)],
    now: Millis,
) -> StoreResult<Vec<OutboxId>> {
    let mut runs = Vec::new();
    let mut not_ours = Vec::new();
    {
        // Each update touches the send only while `owner` still holds its claim
        // (`WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2`).
        let mut sent = tx.prepare_cached(sql!("runs/finish_sent"))?;
        let mut retry = tx.prepare_cached(sql!("runs/finish_retry"))?;
        let mut failed = tx.prepare_cached(sql!("runs/finish_failed"))?;
        let mut attempt = tx.prepare_cached(sql!("runs/insert_attempt"))?;
        // Held and deferred sends made no attempt: the claim's count is taken back.
        let mut held = tx.prepare_cached(sql!("runs/finish_held"))?;
        let mut deferred = tx.prepare_cached(sql!("runs/finish_deferred"))?;
        let get = |row: &rusqlite::Row| row.get::<_, i64>(0);
        for (id, outcome) in outcomes {
            let run_id: Option<i64> = match outcome {
                // A success is on the outbox row itself (state, remote id,
                // attempts); the log keeps what went wrong.
                OutboxOutcome::Sent { remote_id } => sent
                    .query_row(params![id, owner, remote_id, now], get)
                    .optional()?,
                OutboxOutcome::Retry {
                    at,
                    error,
                    check_first,
                } => {
                    let run_id = retry
                        .query_row(params![id, owner, at, error, check_first, now], get)
                        .optional()?;
                    if run_id.is_some() {
                        attempt.execute(params![id, now, "retry", error])?;
                    }
                    run_id
                }
                OutboxOutcome::Failed { error } => {
                    let run_id = failed
                        .query_row(params![id, owner, error, now], get)
                        .optional()?;
                    if run_id.is_some() {
                        attempt.execute(params![id, now, "failed", error])?;
                    }
                    run_id
                }
                OutboxOutcome::Held { note } => held
                    .query_row(params![id, owner, note, now], get)
                    .optional()?,
                OutboxOutcome::Deferred { at, note } => deferred
                    .query_row(params![id, owner, at, note, now], get)
                    .optional()?,
            };
            match run_id {
                Some(run_id) => runs.push(run_id),
                None => not_ours.push(*id),
            }
        }
    }
    runs.sort_unstable();
    runs.dedup();
    for run_id in runs {
        settle(tx, run_id, now)?;
    }
    Ok(not_ours)
}

/// Marks `owner`'s claims `ids` in flight; returns those marked.
fn mark(tx: &Connection, owner: &str, ids: &[OutboxId], now: Millis) -> StoreResult<Vec<OutboxId>> {
    let mut mark = tx.prepare_cached(sql!("runs/mark_in_flight"))?;
    let mut marked = Vec::with_capacity(ids.len());
    for id in ids {
        if mark.execute(params![id, owner, now])? == 1 {
            marked.push(*id);
        }
    }
    Ok(marked)
}

pub(super) fn insert_outbox(
    tx: &Connection,
    run_id: RunId,
    rows: &[NewOutbox],
    now: Millis,
) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(sql!("runs/insert_outbox"))?;
    for row in rows {
        insert.execute(params![
            run_id,
            row.step as i64,
            row.account,
            row.post.idempotency_key,
            to_json(&row.post),
            row.due,
            now
        ])?;
    }
    Ok(())
}

/// Takes back claimed sends: those whose lease passed at `now`, or (with `owner_prefix`)
/// every claim of those owners. Those whose request had left are in doubt (`check_first`);
/// the others go back as they were, the attempt not counted.
pub(super) fn recover(
    tx: &Connection,
    now: Millis,
    owner_prefix: Option<&str>,
) -> StoreResult<Recovered> {
    let in_doubt = tx
        .prepare_cached(sql!("runs/recover_in_doubt"))?
        .execute(params![now, owner_prefix])?;
    let unstarted = tx
        .prepare_cached(sql!("runs/recover_unstarted"))?
        .execute(params![now, owner_prefix])?;
    Ok(Recovered {
        in_doubt,
        unstarted,
    })
}

pub(super) fn settle(tx: &Connection, run_id: RunId, now: Millis) -> StoreResult<()> {
    tx.prepare_cached(SETTLE_RUN)?
        .execute(params![run_id, now])?;
    Ok(())
}

pub(super) type ClaimedRow = (
    (i64, i64, i64, String, String),
    (i64, bool, bool, Option<i64>),
);

/// A claimed send's columns (`id, run_id, step, account, payload, attempts, check_first,
/// reserved, first_attempt_at`) as a row the dispatcher sends.
pub(super) fn outbox_row(
    (
        (id, run_id, step, account, payload),
        (attempts, check_first, reserved, first_attempt_at),
    ): ClaimedRow,
) -> StoreResult<OutboxRow> {
    Ok(OutboxRow {
        id,
        run_id,
        step: step as usize,
        account,
        post: from_json::<OutgoingPost>(&payload)?,
        attempts: attempts as u32,
        check_first,
        reserved,
        first_attempt_at,
    })
}

pub(super) fn claimed_row(row: &rusqlite::Row) -> rusqlite::Result<ClaimedRow> {
    Ok((
        (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ),
        (row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?),
    ))
}

/// The ids of the first `limit` sends due at `claim.now` (by due time, then id) of accounts
/// `claim` does not leave out.
fn due_leaving_out(tx: &Connection, claim: &Claim, limit: usize) -> StoreResult<Vec<OutboxId>> {
    let accounts = tx
        .prepare_cached(sql!("runs/pending_accounts"))?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut due = Vec::new();
    let mut query = tx.prepare_cached(sql!("runs/due_of_account"))?;
    for account in accounts {
        if claim.skip_accounts.contains(&account) {
            continue;
        }
        let rows = query.query_map(
            params![account, claim.now, claim.run, limit as i64],
            |row| Ok((row.get::<_, Millis>(1)?, row.get::<_, OutboxId>(0)?)),
        )?;
        for row in rows {
            due.push(row?);
        }
    }
    due.sort_unstable();
    due.truncate(limit);
    Ok(due.into_iter().map(|(_, id)| id).collect())
}
