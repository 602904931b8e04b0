//! What conditions read from outside: account metrics (campaigns) and mention signals
//! (crisis plans). Supplied per evaluation through `ConditionInput`.

use std::time::Duration;

/// One account's counters at its latest snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountMetrics {
    pub followers: i64,
    pub posts: i64,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
}

/// Account metrics for `metrics(account)` in campaign `when:`.
pub trait MetricsSource: Send + Sync {
    /// The latest snapshot of `account`; `None` when there is none (conditions then see
    /// zeros). An error (the snapshot could not be read) fails the evaluation: a condition
    /// is never decided on zeros that stand for a failed read.
    fn metrics(&self, account: &str) -> Result<Option<AccountMetrics>, String> {
        let _ = account;
        Ok(None)
    }
}

/// Which mentions a crisis function counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sentiment {
    Total,
    Negative,
    Positive,
    Neutral,
}

impl Sentiment {
    pub const NAMES: [&'static str; 4] = ["total", "negative", "positive", "neutral"];

    pub fn parse(name: &str) -> Option<Sentiment> {
        match name {
            "total" => Some(Sentiment::Total),
            "negative" => Some(Sentiment::Negative),
            "positive" => Some(Sentiment::Positive),
            "neutral" => Some(Sentiment::Neutral),
            _ => None,
        }
    }
}

/// Mentions within a window, by sentiment, and how many distinct authors wrote them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MentionCounts {
    pub total: i64,
    pub negative: i64,
    pub positive: i64,
    pub neutral: i64,
    pub authors: i64,
}

/// Mention aggregates for crisis `when:` (`mentions`, `spike`, `zscore`, `rate`).
pub trait SignalSource: Send + Sync {
    fn mentions(&self, window: Duration) -> MentionCounts {
        let _ = window;
        MentionCounts::default()
    }

    /// How many times the mentions in `window` exceed their usual level over `baseline`.
    fn spike(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        let _ = (sentiment, window, baseline);
        0.0
    }

    /// Standard deviations of the mentions in `window` above the mean over `baseline`.
    fn zscore(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        let _ = (sentiment, window, baseline);
        0.0
    }

    /// Mentions per minute within `window`.
    fn rate(&self, sentiment: Sentiment, window: Duration) -> f64 {
        let _ = (sentiment, window);
        0.0
    }
}

/// No data at all: every metric is zero, there are no mentions.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoData;

impl MetricsSource for NoData {}
impl SignalSource for NoData {}
