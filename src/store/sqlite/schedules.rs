//! Revisions, schedule cursors, and when the engine was last alive.

use rusqlite::params;

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{ScheduleStore, StoreResult};

impl ScheduleStore for SqliteStore {
    fn record_revision(&self, digest: &str, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            tx.execute(sql!("schedules/insert_revision"), params![digest, now])?;
            Ok(tx.query_row(sql!("schedules/revision_id"), [digest], |row| row.get(0))?)
        })
    }

    fn last_alive(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("schedules/last_alive"))?;
        let mut rows = query.query([])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }

    fn first_started(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        Ok(connection.query_row(sql!("schedules/first_started"), [], |row| row.get(0))?)
    }

    fn cursors(&self) -> StoreResult<Vec<(ItemKey, Millis)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("schedules/cursors"))?;
        let rows = query.query_map([], |row| {
            Ok((
                ItemKey::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                row.get(2)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest_fires(&self, limit: usize) -> StoreResult<(Vec<(ItemKey, Millis)>, usize)> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("schedules/latest_fires"))?;
        let rows = query.query_map([limit as i64], |row| {
            Ok((
                ItemKey::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                row.get(2)?,
            ))
        })?;
        let latest = rows.collect::<Result<_, _>>()?;
        let count: i64 = connection
            .prepare_cached(sql!("schedules/count_cursors"))?
            .query_row([], |row| row.get(0))?;
        Ok((latest, count as usize))
    }
}
