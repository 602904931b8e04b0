//! The metrics of Instagram and Threads posts: Instagram's counts per post and followers,
//! Threads' insights per post and followers; the counts and insights of the Graph's answers,
//! which a Facebook Page's metrics (`facebook.rs`) read as well.

use reqwest::Method;
use serde::Deserialize;

use super::{Flavor, MetaConnector, Page};
use crate::connectors::{MetricsSnapshot, PostMetrics, SendError};

/// An object's counts, as many as the call asked for in `fields`.
#[derive(Debug, Deserialize)]
pub(super) struct Counts {
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    comments_count: Option<u64>,
    #[serde(default)]
    pub(super) followers_count: Option<u64>,
}

/// One metric of an insights edge: its values over periods, or its total.
#[derive(Debug, Deserialize)]
pub(super) struct Insight {
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
    #[serde(default)]
    total_value: Option<InsightValue>,
}

#[derive(Debug, Deserialize)]
struct InsightValue {
    #[serde(default)]
    value: serde_json::Value,
}

impl InsightValue {
    /// The count; 0 when Meta leaves it out, `None` when it is not a count.
    fn count(&self) -> Option<u64> {
        match &self.value {
            serde_json::Value::Null => Some(0),
            value => value.as_u64(),
        }
    }
}

impl Insight {
    /// The metric `name` among `insights`: its first value, else its total.
    pub(super) fn first_value(insights: &[Insight], name: &str) -> Option<u64> {
        insights
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.values.first().or(i.total_value.as_ref()))
            .and_then(InsightValue::count)
    }

    /// The metric `name` among `insights`: its total, else its first value.
    fn total(insights: &[Insight], name: &str) -> Option<u64> {
        insights
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.total_value.as_ref().or(i.values.first()))
            .and_then(InsightValue::count)
    }
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
                let followers = Insight::total(&followers.data, "followers_count");
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
                    let value = |name: &str| Insight::first_value(&insights.data, name);
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
