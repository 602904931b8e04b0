//! Contests' state and entries.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{ContestStore, StoreResult};

impl ContestStore for SqliteStore {
    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT state FROM contests WHERE name = ?1")?
            .query_row([contest], |row| row.get(0))
            .optional()?)
    }

    fn put_contest_state(&self, contest: &str, state: &str, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            tx.prepare_cached(
                "INSERT INTO contests (name, state, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )?
            .execute(params![contest, state, now])?;
            Ok(())
        })
    }

    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT key, entry FROM contest_entries WHERE contest = ?1 ORDER BY first_seen, key",
        )?;
        let rows = query.query_map([contest], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_contest_entries(
        &self,
        contest: &str,
        entries: &[(String, String)],
        now: Millis,
    ) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut put = tx.prepare_cached(
                "INSERT INTO contest_entries (contest, key, entry, first_seen, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (contest, key) DO UPDATE SET entry = excluded.entry, updated_at = excluded.updated_at",
            )?;
            for (key, entry) in entries {
                put.execute(params![contest, key, entry, now])?;
            }
            Ok(())
        })
    }
}
