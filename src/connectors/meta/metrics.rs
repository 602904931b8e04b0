//! The metrics of Instagram and Threads posts: Instagram's counts per post and followers,
//! Threads' insights per post and followers.

use reqwest::Method;
use serde::Deserialize;

use super::{Flavor, MetaConnector, Page};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

#[derive(Debug, Deserialize)]
struct Counts {
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    comments_count: Option<u64>,
    #[serde(default)]
    followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Insight {
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
    #[serde(default)]
    total_value: Option<InsightValue>,
}

#[derive(Debug, Deserialize)]
struct InsightValue {
    #[serde(default)]
    value: u64,
}

impl MetaConnector {
    /// `Connector::metrics` (its documentation is in `mod.rs`).
    pub(super) async fn read_metrics(
        &self,
        posts: &[String],
    ) -> Result<MetricsSnapshot, SendError> {
        let mut metrics = Vec::new();
        match self.flavor {
            Flavor::Instagram => {
                let account: Counts = self
                    .graph
                    .call(
                        Method::GET,
                        &[&self.user],
                        &[("fields", "followers_count".into())],
                        "reading the followers",
                    )
                    .await?;
                for id in posts {
                    let counts: Counts = self
                        .graph
                        .call(
                            Method::GET,
                            &[id],
                            &[("fields", "like_count,comments_count".into())],
                            "reading the post's counts",
                        )
                        .await?;
                    metrics.push(PostMetrics {
                        remote_id: id.clone(),
                        likes: counts.like_count.unwrap_or(0),
                        reposts: 0,
                        replies: counts.comments_count.unwrap_or(0),
                        views: None,
                    });
                }
                Ok(MetricsSnapshot {
                    followers: account.followers_count,
                    posts: metrics,
                })
            }
            Flavor::Threads => {
                let followers: Page<Insight> = self
                    .graph
                    .call(
                        Method::GET,
                        &[&self.user, "threads_insights"],
                        &[("metric", "followers_count".into())],
                        "reading the followers",
                    )
                    .await?;
                let followers = followers
                    .data
                    .iter()
                    .find(|i| i.name == "followers_count")
                    .and_then(|i| i.total_value.as_ref().or(i.values.first()))
                    .map(|v| v.value);
                for id in posts {
                    let insights: Page<Insight> = self
                        .graph
                        .call(
                            Method::GET,
                            &[id, "insights"],
                            &[("metric", "views,likes,replies,reposts,quotes".into())],
                            "reading the post's counts",
                        )
                        .await?;
                    let value = |name: &str| {
                        insights
                            .data
                            .iter()
                            .find(|i| i.name == name)
                            .and_then(|i| i.values.first().or(i.total_value.as_ref()))
                            .map(|v| v.value)
                    };
                    metrics.push(PostMetrics {
                        remote_id: id.clone(),
                        likes: value("likes").unwrap_or(0),
                        reposts: value("reposts").unwrap_or(0) + value("quotes").unwrap_or(0),
                        replies: value("replies").unwrap_or(0),
                        views: value("views"),
                    });
                }
                Ok(MetricsSnapshot {
                    followers,
                    posts: metrics,
                })
            }
        }
    }
}
