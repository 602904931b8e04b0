//! Contests' state and entries.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{ContestStore, StoreResult};

impl ContestStore for SqliteStore {
    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("contests/contest_state"))?
            .query_row([contest], |row| row.get(0))
            .optional()?)
    }

    fn put_contest_state(&self, contest: &str, state: &str, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            tx.prepare_cached(sql!("contests/put_contest_state"))?
                .execute(params![contest, state, now])?;
            Ok(())
        })
    }

    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("contests/contest_entries"))?;
        let rows = query.query_map([contest], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unchecked_entries(
        &self,
        contest: &str,
        made_by: Millis,
    ) -> StoreResult<Vec<(String, String)>> {
        let made_by = chrono::DateTime::from_timestamp_millis(made_by)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("contests/unchecked_entries"))?;
        let rows = query.query_map(params![contest, made_by], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn contest_entries_of(
        &self,
        contest: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("contests/contest_entry"))?;
        let mut found = Vec::new();
        for key in keys {
            found.extend(
                query
                    .query_row(params![contest, key], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?,
            );
        }
        Ok(found)
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
            let mut put = tx.prepare_cached(sql!("contests/put_contest_entry"))?;
            for (key, entry) in entries {
                put.execute(params![contest, key, entry, now])?;
            }
            Ok(())
        })
    }
}
