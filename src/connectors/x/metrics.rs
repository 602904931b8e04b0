//! The account's followers and its posts' likes, reposts, replies and views.

use reqwest::Method;

use super::api::Tweet;
use super::{PAGE, XConnector};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

impl XConnector {
    /// Likes, reposts (and quotes), replies and impressions of `posts`; the followers.
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let followers = self.user().await?.public_metrics.map(|m| m.followers_count);
        let mut metrics = Vec::new();
        for chunk in posts.chunks(PAGE as usize) {
            let (read, _) = self
                .call::<Vec<Tweet>>(
                    Method::GET,
                    &["2", "tweets"],
                    &[
                        ("ids", chunk.join(",")),
                        ("tweet.fields", "public_metrics".into()),
                    ],
                    None,
                    "reading the posts' counts",
                )
                .await?;
            metrics.extend(read.data.unwrap_or_default().into_iter().map(|t| {
                let counts = t.public_metrics.unwrap_or_default();
                PostMetrics {
                    remote_id: t.id,
                    likes: counts.like_count,
                    reposts: counts.retweet_count + counts.quote_count,
                    replies: counts.reply_count,
                    views: counts.impression_count,
                }
            }));
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}
