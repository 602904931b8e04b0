//! Account metrics for conditions: `crier run` asks each network that reports metrics for a
//! snapshot (followers, and likes, reposts and replies of the account's posts of the last
//! week) when it starts and every `COLLECT_EVERY`, stores it, and `metrics(account)` in a
//! `when:` reads the latest stored one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::connectors::Connectors;
use crate::script::{AccountMetrics, MetricsSource};
use crate::store::{Store, StoreHandle, to_millis};

/// How often `crier run` takes a snapshot.
pub const COLLECT_EVERY: Duration = Duration::from_secs(15 * 60);
/// How far back the posts a snapshot counts go.
pub const POSTS_SINCE: TimeDelta = TimeDelta::days(7);
/// At most this many of an account's recent posts are counted.
pub const MAX_POSTS: usize = 100;

/// `metrics(account)` from the latest stored snapshot (zeros when there is none; a store
/// that cannot be read fails the condition).
pub struct StoredMetrics {
    store: Arc<dyn Store>,
}

impl StoredMetrics {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoredMetrics { store }
    }
}

impl MetricsSource for StoredMetrics {
    fn metrics(&self, account: &str) -> Result<Option<AccountMetrics>, String> {
        match self.store.latest_metrics(account) {
            Ok(latest) => Ok(latest.map(|(_, metrics)| metrics)),
            Err(error) => {
                tracing::warn!(account, "cannot read the latest metrics: {error}");
                Err(error.to_string())
            }
        }
    }
}

/// Takes and stores a snapshot of every account whose network reports metrics; returns how
/// many were stored. A network that fails is logged and skipped (the last snapshot stays).
/// The store is called through its handle, off the async workers.
pub async fn collect(store: &StoreHandle, connectors: &Connectors, now: DateTime<Utc>) -> usize {
    let mut stored = 0;
    for (account, connector) in connectors.iter() {
        if !connector.capabilities().metrics {
            continue;
        }
        let name = account.to_string();
        let since = to_millis(now - POSTS_SINCE);
        let posts = match store
            .call(move |store| store.recent_remote_ids(&name, since, MAX_POSTS))
            .await
        {
            Ok(posts) => posts,
            Err(error) => {
                tracing::warn!(account, "cannot list recent posts for metrics: {error}");
                continue;
            }
        };
        let snapshot = match connector.metrics(&posts).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(account, "cannot read metrics: {error}");
                continue;
            }
        };
        let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let followers = match snapshot.followers {
            Some(followers) => count(followers),
            // A network that could not say this time keeps the last known followers; if
            // they cannot be read, no snapshot is better than one saying zero.
            None => {
                let name = account.to_string();
                match store.call(move |store| store.latest_metrics(&name)).await {
                    Ok(last) => last.map_or(0, |(_, last)| last.followers),
                    Err(error) => {
                        tracing::warn!(
                            account,
                            "cannot read the last followers for metrics: {error}"
                        );
                        continue;
                    }
                }
            }
        };
        let metrics = AccountMetrics {
            followers,
            posts: count(snapshot.posts.len() as u64),
            likes: count(snapshot.posts.iter().map(|p| p.likes).sum()),
            reposts: count(snapshot.posts.iter().map(|p| p.reposts).sum()),
            replies: count(snapshot.posts.iter().map(|p| p.replies).sum()),
        };
        let name = account.to_string();
        let at = to_millis(now);
        let recorded = store
            .call(move |store| store.record_metrics(&name, &metrics, at))
            .await;
        match recorded {
            Ok(()) => {
                tracing::debug!(account, followers, "metrics stored");
                stored += 1;
            }
            Err(error) => tracing::warn!(account, "cannot store metrics: {error}"),
        }
    }
    stored
}
