//! Decision links' keys and reply cursors in SQLite (`0014_decision_links.sql`), and the
//! shared feeds' items and cursors (`0024_shared_feeds.sql`).

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

    fn feed_cursor(&self, feed: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("links/feed_cursor"))?
            .query_row([feed], |row| row.get(0))
            .optional()?)
    }

    fn add_feed_items(
        &self,
        feed: &str,
        items: &[(String, String)],
        cursor: Option<&str>,
        now: Millis,
        forget_before: Millis,
    ) -> StoreResult<usize> {
        self.transaction(|tx| {
            let mut added = 0;
            let mut insert = tx.prepare_cached(sql!("links/insert_feed_item"))?;
            for (key, item) in items {
                added += insert.execute(params![feed, key, item, now])?;
            }
            if let Some(cursor) = cursor {
                tx.prepare_cached(sql!("links/put_feed_cursor"))?
                    .execute(params![feed, cursor, now])?;
            }
            tx.prepare_cached(sql!("links/forget_feed_items"))?
                .execute(params![feed, forget_before])?;
            Ok(added)
        })
    }

    fn feed_items_after(
        &self,
        feed: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, String)>> {
        let connection = self.lock();
        let mut select = connection.prepare_cached(sql!("links/feed_items_after"))?;
        let rows = select.query_map(params![feed, after, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
