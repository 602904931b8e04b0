//! The metrics of LinkedIn posts (likes and comments through `socialActions`) and an
//! organization's followers (`networkSizes`).

use reqwest::Method;
use serde::Deserialize;

use super::LinkedinConnector;
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SocialActions {
    #[serde(default)]
    likes_summary: LikesSummary,
    #[serde(default)]
    comments_summary: CommentsSummary,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LikesSummary {
    #[serde(default)]
    total_likes: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentsSummary {
    #[serde(default)]
    aggregated_total_comments: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkSize {
    #[serde(default)]
    first_degree_size: u64,
}

impl LinkedinConnector {
    /// `Connector::metrics` (its documentation is in `mod.rs`).
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let followers = if self.author.starts_with("urn:li:organization:") {
            let reply = self
                .call(
                    Method::GET,
                    &["networkSizes", &self.author],
                    &[("edgeType", "COMPANY_FOLLOWED_BY_MEMBER".into())],
                    None,
                    "reading the followers",
                )
                .await?;
            serde_json::from_str::<NetworkSize>(&reply.body)
                .ok()
                .map(|n| n.first_degree_size)
        } else {
            None
        };
        let mut metrics = Vec::new();
        for id in posts {
            let reply = self
                .call(
                    Method::GET,
                    &["socialActions", id],
                    &[],
                    None,
                    "reading the post's counts",
                )
                .await?;
            let actions: SocialActions = serde_json::from_str(&reply.body).unwrap_or_default();
            metrics.push(PostMetrics {
                remote_id: id.clone(),
                likes: actions.likes_summary.total_likes,
                reposts: 0,
                replies: actions.comments_summary.aggregated_total_comments,
                views: None,
            });
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}
