//! Fires committed: each batch's runs with their steps and outbox rows, the approval
//! requests, pauses and crisis writes that go with them, an inbound event's receipt, and,
//! once for all the batches of one transaction, the engine's last time alive and each
//! item's cursor.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::crisis::write_crisis;
use super::pauses::{insert_pause, lift_pauses};
use super::runs::{insert_outbox, settle};
use super::to_json;
use crate::store::StoreResult;
use crate::store::model::*;

/// Writes `batches` inside the transaction `tx`, in order: the runs of each (none for an
/// inbound event received before).
pub(super) fn write_batches(tx: &Connection, batches: &[Batch]) -> StoreResult<Vec<Vec<RunId>>> {
    let mut progress = Progress::default();
    let ids = batches
        .iter()
        .map(|batch| write_batch(tx, batch, &mut progress))
        .collect::<StoreResult<Vec<_>>>()?;
    progress.write(tx)?;
    Ok(ids)
}

/// What the batches written in one transaction moved on: when the engine was last alive,
/// and each item's latest fire. Written once per transaction, however many batches (a
/// group of inbound events advances one post's cursor once per event).
#[derive(Default)]
struct Progress<'b> {
    alive_at: Option<Millis>,
    cursors: BTreeMap<&'b ItemKey, Millis>,
}

impl<'b> Progress<'b> {
    fn add(&mut self, batch: &'b Batch) {
        self.alive_at = self.alive_at.max(Some(batch.now));
        for (key, at) in &batch.cursors {
            let cursor = self.cursors.entry(key).or_insert(*at);
            *cursor = (*cursor).max(*at);
        }
    }

    fn write(&self, tx: &Connection) -> StoreResult<()> {
        let Some(alive_at) = self.alive_at else {
            return Ok(());
        };
        tx.prepare_cached(sql!("fires/mark_alive"))?
            .execute([alive_at])?;
        let mut cursor = tx.prepare_cached(sql!("fires/advance_cursor"))?;
        for (key, at) in &self.cursors {
            cursor.execute(params![key.playbook, key.item, at])?;
        }
        Ok(())
    }
}

/// Writes one batch of `commit` inside the transaction `tx`; what it moved on is added to
/// `progress`, written by the caller once the transaction's batches are.
fn write_batch<'b>(
    tx: &Connection,
    batch: &'b Batch,
    progress: &mut Progress<'b>,
) -> StoreResult<Vec<RunId>> {
    let now = batch.now;
    // An inbound event received before: its first answer stands; nothing is written. Its
    // receipt is written last, with its runs, in the same transaction.
    if let Some(event) = &batch.hook_event {
        let received = tx
            .prepare_cached(sql!("runs/hook_receipt"))?
            .exists(params![event.hook, event.key])?;
        if received {
            return Ok(Vec::new());
        }
    }
    let mut ids = Vec::with_capacity(batch.runs.len());
    {
        let mut insert_run = tx.prepare_cached(sql!("fires/insert_run"))?;
        let mut insert_step = tx.prepare_cached(sql!("fires/insert_step"))?;
        for run in &batch.runs {
            let inserted = insert_run.execute(params![
                run.key.playbook,
                run.key.item,
                run.fire_at,
                run.revision,
                run.state.as_str(),
                run.reason,
                to_json(&run.steps),
                run.current_step as i64,
                now,
            ])?;
            if inserted == 0 {
                continue; // this fire was recorded before (a restart raced it)
            }
            let id = tx.last_insert_rowid();
            for (index, step) in run.steps.iter().enumerate() {
                let (state, wake_at) = if index < run.current_step {
                    (StepState::Done, None)
                } else if index == run.current_step && run.wake_at.is_some() {
                    (StepState::Waiting, run.wake_at)
                } else if matches!(run.state, RunState::Skipped | RunState::Missed) {
                    (StepState::Skipped, None)
                } else {
                    (StepState::Pending, None)
                };
                insert_step.execute(params![
                    id,
                    index as i64,
                    step.kind(),
                    state.as_str(),
                    wake_at,
                    now
                ])?;
            }
            insert_outbox(tx, id, &run.outbox, now)?;
            if run.outbox.is_empty() {
                settle(tx, id, now)?;
            }
            ids.push(id);
        }
    }
    progress.add(batch);
    let mut approval = tx.prepare_cached(sql!("fires/open_approval"))?;
    for request in &batch.approvals {
        approval.execute(params![
            request.key.playbook,
            request.key.item,
            request.fire_at,
            to_json(&request.approvers),
            request.need,
            request.deadline,
            request.on_timeout,
            request.text,
            to_json(&request.accounts),
            now
        ])?;
    }
    for pause in &batch.pauses {
        insert_pause(tx, pause, now)?;
    }
    for resume in &batch.resumes {
        lift_pauses(
            tx,
            &resume.scope,
            &resume.by,
            resume.paused_by.as_deref(),
            now,
        )?;
    }
    for write in &batch.crisis {
        write_crisis(tx, write, now)?;
    }
    for write in &batch.contests {
        tx.prepare_cached(sql!("contests/put_contest_state"))?
            .execute(params![write.contest, write.state, now])?;
    }
    if let Some(event) = &batch.hook_event {
        tx.prepare_cached(sql!("fires/insert_hook_event"))?
            .execute(params![event.hook, event.key, now, to_json(&ids)])?;
    }
    Ok(ids)
}
