//! Pauses, and the sends they hold.

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::runs::settle;
use crate::store::model::*;
use crate::store::{PauseStore, StoreError, StoreResult};

impl PauseStore for SqliteStore {
    fn pause(&self, pause: &NewPause, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| insert_pause(tx, pause, now))
    }

    fn resume(&self, scope: &PauseScope, by: &str, now: Millis) -> StoreResult<usize> {
        self.transaction(|tx| lift_pauses(tx, scope, by, None, now))
    }

    fn pauses(&self, now: Millis) -> StoreResult<Vec<PauseView>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("pauses/pauses_in_force"))?;
        let rows = query
            .query_map([now], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, kind, name, until, reason, by, created_at)| {
                let scope = PauseScope::from_parts(&kind, name).ok_or_else(|| {
                    StoreError::Corrupt(format!("pause {id} has an unknown scope `{kind}`"))
                })?;
                Ok(PauseView {
                    id,
                    scope,
                    until,
                    reason,
                    by,
                    created_at,
                })
            })
            .collect()
    }

    fn held_sends(&self) -> StoreResult<Vec<HeldSend>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("pauses/held_sends"))?;
        let rows = query.query_map([], |row| {
            Ok(HeldSend {
                id: row.get(0)?,
                run_id: row.get(1)?,
                key: ItemKey::new(row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                fire_at: row.get(4)?,
                account: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn release_held(&self, releases: &[(OutboxId, Release)], now: Millis) -> StoreResult<()> {
        if releases.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut runs = Vec::new();
            {
                let mut send = tx.prepare_cached(sql!("pauses/release_send"))?;
                let mut skip = tx.prepare_cached(sql!("pauses/release_skip"))?;
                for (id, release) in releases {
                    let run_id: Option<i64> = match release {
                        Release::Send => send
                            .query_row(params![id, now], |row| row.get(0))
                            .optional()?,
                        Release::Skip { reason } => skip
                            .query_row(params![id, reason, now], |row| row.get(0))
                            .optional()?,
                    };
                    runs.extend(run_id);
                }
            }
            runs.sort_unstable();
            runs.dedup();
            for run_id in runs {
                settle(tx, run_id, now)?;
            }
            Ok(())
        })
    }
}

pub(super) fn insert_pause(tx: &Connection, pause: &NewPause, now: Millis) -> StoreResult<i64> {
    Ok(tx.query_row(
        sql!("pauses/insert_pause"),
        params![
            pause.scope.kind(),
            pause.scope.name(),
            pause.until,
            pause.reason,
            pause.by,
            now
        ],
        |row| row.get(0),
    )?)
}

/// Lifts the pauses of `scope` in force (every one for `All`), only those `paused_by` set
/// when given.
pub(super) fn lift_pauses(
    tx: &Connection,
    scope: &PauseScope,
    by: &str,
    paused_by: Option<&str>,
    now: Millis,
) -> StoreResult<usize> {
    let all = *scope == PauseScope::All;
    Ok(tx.execute(
        sql!("pauses/lift_pauses"),
        params![now, by, all, scope.kind(), scope.name(), paused_by],
    )?)
}
