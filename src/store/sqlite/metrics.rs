//! Metrics snapshots, and the posts they count.

use rusqlite::params;

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{AccountMetrics, MetricsStore, StoreResult};

impl MetricsStore for SqliteStore {
    fn record_metrics(
        &self,
        account: &str,
        metrics: &AccountMetrics,
        at: Millis,
    ) -> StoreResult<()> {
        let connection = self.lock();
        connection
            .prepare_cached(sql!("metrics/put_snapshot"))?
            .execute(params![
                account,
                at,
                metrics.followers,
                metrics.posts,
                metrics.likes,
                metrics.reposts,
                metrics.replies
            ])?;
        Ok(())
    }

    fn latest_metrics(&self, account: &str) -> StoreResult<Option<(Millis, AccountMetrics)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("metrics/latest_snapshot"))?;
        let mut rows = query.query(params![account])?;
        Ok(match rows.next()? {
            Some(row) => Some((
                row.get(0)?,
                AccountMetrics {
                    followers: row.get(1)?,
                    posts: row.get(2)?,
                    likes: row.get(3)?,
                    reposts: row.get(4)?,
                    replies: row.get(5)?,
                },
            )),
            None => None,
        })
    }

    fn recent_remote_ids(
        &self,
        account: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("metrics/recent_remote_ids"))?;
        let ids = query
            .query_map(params![account, since, limit as i64], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }
}
