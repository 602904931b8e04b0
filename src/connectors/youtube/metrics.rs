//! The channel's subscribers and its videos' views, likes and comments.

use reqwest::Method;

use super::YoutubeConnector;
use super::wire::{List, Video};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

impl YoutubeConnector {
    /// Views, likes and comments of `posts` (videos), and the channel's subscribers.
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let channel = self.channel().await?;
        let number = |s: &Option<String>| s.as_deref().and_then(|s| s.parse::<u64>().ok());
        let followers = channel
            .statistics
            .as_ref()
            .and_then(|s| number(&s.subscriber_count));
        let mut metrics = Vec::new();
        for chunk in posts.chunks(50) {
            let list: List<Video> = self
                .call(
                    Method::GET,
                    "videos",
                    &[("part", "statistics".into()), ("id", chunk.join(","))],
                    None,
                    "reading the videos' counts",
                )
                .await?;
            for video in list.items {
                let stats = video.statistics.unwrap_or_default();
                metrics.push(PostMetrics {
                    remote_id: video.id,
                    likes: number(&stats.like_count).unwrap_or(0),
                    reposts: 0,
                    replies: number(&stats.comment_count).unwrap_or(0),
                    views: number(&stats.view_count),
                });
            }
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}
