//! Decision links' keys and reply cursors in SQLite (`0014_decision_links.sql`).

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{LinkStore, Millis, StoreResult};

impl LinkStore for SqliteStore {
    fn server_key(&self, name: &str, fresh: &[u8], now: Millis) -> StoreResult<Vec<u8>> {
        self.transaction(|tx| {
            tx.prepare_cached(sql!("links/insert_key"))?
                .execute(params![name, fresh, now])?;
            Ok(tx
                .prepare_cached(sql!("links/key"))?
                .query_row([name], |row| row.get(0))?)
        })
    }

    fn reply_cursor(&self, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("links/reply_cursor"))?
            .query_row([account], |row| row.get(0))
            .optional()?)
    }

    fn put_reply_cursor(&self, account: &str, cursor: &str, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            tx.prepare_cached(sql!("links/put_reply_cursor"))?
                .execute(params![account, cursor, now])?;
            Ok(())
        })
    }
}
