//! The account's followers and its posts' likes, boosts and replies.

use chrono::Utc;
use reqwest::StatusCode;

use super::api::{Status, parse, reworded};
use super::{MastodonConnector, http, path_segment};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

impl MastodonConnector {
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let account = self.verify_credentials("the request for metrics").await?;
        let mut snapshot = MetricsSnapshot {
            followers: account.followers_count,
            posts: Vec::with_capacity(posts.len()),
        };
        for remote_id in posts {
            let what = "the request for a post's counts";
            let request = self.get(&format!("/api/v1/statuses/{}", path_segment(remote_id)));
            let reply = self.send(request, what).await?;
            // Deleted since: nothing to count.
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
                .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
            let status: Status = parse(&reply.body, what)?;
            snapshot.posts.push(PostMetrics {
                remote_id: remote_id.clone(),
                likes: status.favourites_count,
                reposts: status.reblogs_count,
                replies: status.replies_count,
                views: None,
            });
        }
        Ok(snapshot)
    }
}
