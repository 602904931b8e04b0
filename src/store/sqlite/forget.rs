//! Forgetting finished runs, for a store that must not grow with time: a rehearsal on SQLite
//! in memory reads the lines of a stretch of runs, then forgets them, so a year rehearses
//! in the memory of a day. Never used on a service's store, which keeps its history.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::StoreResult;
use crate::store::model::Millis;

impl SqliteStore {
    /// A store in memory for a rehearsal that forgets its finished runs
    /// (`forget_finished_runs`), counts no past sends against limits and takes no action by
    /// hand: its tables hold about a day of runs, so the indexes for a service's claims and
    /// pages and for searching a long history, and the journal entry of a run triggered by
    /// hand, are left out (`forget/lean.sql`). What it answers is what `in_memory` answers,
    /// with less to keep up on every write.
    pub fn in_memory_forgetting() -> StoreResult<SqliteStore> {
        let store = SqliteStore::in_memory()?;
        store.lock().execute_batch(sql!("forget/lean"))?;
        Ok(store)
    }

    /// The earliest fire time of a run still going (running, or waiting for a step): runs
    /// fired before it are finished, and so are their lines.
    pub fn unfinished_from(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let earliest = connection
            .prepare_cached(sql!("forget/unsettled_from"))?
            .query_row([], |row| row.get::<_, Option<Millis>>(0))
            .optional()?;
        Ok(earliest.flatten())
    }

    /// Deletes the finished runs fired before `before`, with their steps, sends and
    /// attempts, except, with `keep_latest_sent`, each item's latest sent post per account
    /// (a later reply to the item reads it; without replies nothing does). Schedule
    /// cursors, approvals, pauses and everything else stay. Returns how many runs were
    /// forgotten.
    pub fn forget_finished_runs(
        &self,
        before: Millis,
        keep_latest_sent: bool,
    ) -> StoreResult<usize> {
        self.rehearsal_write(|tx| {
            tx.execute_batch(sql!("forget/create"))?;
            let mark = if keep_latest_sent {
                sql!("forget/mark_forgotten")
            } else {
                sql!("forget/mark_finished")
            };
            let marked = tx.prepare_cached(mark)?.execute(params![before])?;
            if marked > 0 {
                tx.execute_batch(sql!("forget/forget"))?;
            }
            Ok(marked)
        })
    }
}
