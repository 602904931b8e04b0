//! Windowed mention aggregates, kept incrementally: one cumulative bucket per minute, so a
//! window's count is a difference of two buckets and no evaluation rescans history.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::script::{MentionCounts, Sentiment, SignalSource};

use super::classify::Tone;

const MINUTE_MS: i64 = 60_000;

/// Counts since the start of the retained history, by `[total, negative, positive, neutral]`.
type Cumulative = [u64; 4];

fn slot(sentiment: Sentiment) -> usize {
    match sentiment {
        Sentiment::Total => 0,
        Sentiment::Negative => 1,
        Sentiment::Positive => 2,
        Sentiment::Neutral => 3,
    }
}

/// The mention windows of one crisis plan. `retention` bounds memory (the longest baseline the
/// plan reads); older minutes are dropped as time moves on. Serializable, so a service can
/// snapshot it and a restart resumes with the same windows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MentionWindows {
    retention_minutes: i64,
    /// The minute of `buckets[0]`.
    first_minute: i64,
    /// The minute of the first mention ever seen (the baseline never reaches before it).
    since_minute: Option<i64>,
    /// Cumulative counts up to and including each minute.
    buckets: VecDeque<Cumulative>,
    /// Counts dropped from the front, so `buckets` stay cumulative from the start.
    base: Cumulative,
    /// Each author's last minute.
    last_seen: HashMap<String, i64>,
    /// How many authors have each minute as their last one.
    authors_by_minute: VecDeque<u32>,
    /// The clock: the latest minute observed or asked about.
    now_minute: i64,
}

impl MentionWindows {
    pub fn new(retention: Duration) -> MentionWindows {
        MentionWindows {
            retention_minutes: (retention.as_secs() as i64 / 60).max(1) + 1,
            first_minute: 0,
            since_minute: None,
            buckets: VecDeque::new(),
            base: [0; 4],
            last_seen: HashMap::new(),
            authors_by_minute: VecDeque::new(),
            now_minute: 0,
        }
    }

    /// Moves the clock to `now` (milliseconds since the epoch): empty minutes are added,
    /// minutes beyond the retention dropped. Time never goes back.
    pub fn advance(&mut self, now: i64) {
        let minute = now.div_euclid(MINUTE_MS);
        if self.buckets.is_empty() {
            self.first_minute = minute - self.retention_minutes + 1;
            self.buckets = VecDeque::from(vec![self.base; self.retention_minutes as usize]);
            self.authors_by_minute = VecDeque::from(vec![0; self.retention_minutes as usize]);
            self.now_minute = minute;
            return;
        }
        if minute <= self.now_minute {
            return;
        }
        let last = *self.buckets.back().expect("buckets are never empty here");
        if minute - self.now_minute >= self.retention_minutes {
            // Everything retained is out of reach: start over at the same totals.
            self.base = last;
            self.buckets = VecDeque::from(vec![last; self.retention_minutes as usize]);
            self.authors_by_minute = VecDeque::from(vec![0; self.retention_minutes as usize]);
            self.last_seen.clear();
            self.first_minute = minute - self.retention_minutes + 1;
            self.now_minute = minute;
            return;
        }
        for _ in self.now_minute..minute {
            self.buckets.push_back(last);
            self.authors_by_minute.push_back(0);
            if let Some(dropped) = self.buckets.pop_front() {
                self.base = dropped;
            }
            self.authors_by_minute.pop_front();
            self.first_minute += 1;
        }
        self.now_minute = minute;
        let horizon = self.first_minute;
        if self.last_seen.len() > 1024 && self.last_seen.values().any(|m| *m < horizon) {
            self.last_seen.retain(|_, m| *m >= horizon);
        }
    }

    /// Adds one mention at `at` by `author` with `tone`. A mention older than the clock counts
    /// in its own minute; one beyond the retention is ignored.
    pub fn record(&mut self, at: i64, author: &str, tone: Tone) {
        self.advance(at);
        let minute = at.div_euclid(MINUTE_MS);
        if minute < self.first_minute {
            return;
        }
        self.since_minute = Some(self.since_minute.map_or(minute, |s| s.min(minute)));
        let index = (minute - self.first_minute) as usize;
        let tone_slot = match tone {
            Tone::Negative => 1,
            Tone::Positive => 2,
            Tone::Neutral => 3,
        };
        for bucket in self.buckets.range_mut(index..) {
            bucket[0] += 1;
            bucket[tone_slot] += 1;
        }
        match self.last_seen.get_mut(author) {
            Some(last) if *last >= minute => {}
            Some(last) => {
                if *last >= self.first_minute {
                    let old = (*last - self.first_minute) as usize;
                    self.authors_by_minute[old] -= 1;
                }
                *last = minute;
                self.authors_by_minute[index] += 1;
            }
            None => {
                self.last_seen.insert(author.to_owned(), minute);
                self.authors_by_minute[index] += 1;
            }
        }
    }

    /// Cumulative counts up to and including `minute` (the base before the retained span).
    fn at(&self, minute: i64) -> Cumulative {
        if self.buckets.is_empty() || minute < self.first_minute {
            return self.base;
        }
        let index = ((minute - self.first_minute) as usize).min(self.buckets.len() - 1);
        self.buckets[index]
    }

    /// Counts in the minutes `(end - minutes, end]`.
    fn span(&self, end: i64, minutes: i64) -> Cumulative {
        let (to, from) = (self.at(end), self.at(end - minutes));
        [
            to[0] - from[0],
            to[1] - from[1],
            to[2] - from[2],
            to[3] - from[3],
        ]
    }

    fn minutes(window: Duration) -> i64 {
        (window.as_secs().div_ceil(60) as i64).max(1)
    }

    /// The counts of a window ending now.
    pub fn counts(&self, window: Duration) -> MentionCounts {
        let minutes = Self::minutes(window);
        let c = self.span(self.now_minute, minutes);
        let authors = if self.buckets.is_empty() {
            0
        } else {
            let start = (self.now_minute - minutes + 1).max(self.first_minute);
            let from = (start - self.first_minute) as usize;
            self.authors_by_minute
                .range(from..)
                .map(|n| i64::from(*n))
                .sum()
        };
        MentionCounts {
            total: c[0] as i64,
            negative: c[1] as i64,
            positive: c[2] as i64,
            neutral: c[3] as i64,
            authors,
        }
    }

    /// The counts of `window`-long slots in the baseline before the current window (as far as
    /// history goes back), oldest first, bounded by the retention.
    fn baseline_slots(&self, sentiment: Sentiment, window: i64, baseline: i64) -> Vec<f64> {
        let Some(since) = self.since_minute else {
            return Vec::new();
        };
        let earliest = (self.now_minute - baseline)
            .max(since - 1)
            .max(self.first_minute - 1);
        let mut end = self.now_minute - window;
        let mut slots = Vec::new();
        while end - window >= earliest {
            slots.push(self.span(end, window)[slot(sentiment)] as f64);
            end -= window;
        }
        slots
    }

    /// The current window's count over the baseline's mean per window; a mean below one
    /// mention counts as one, so the first mentions ever are not an infinite spike.
    pub fn spike_ratio(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        let (w, b) = (Self::minutes(window), Self::minutes(baseline));
        let current = self.span(self.now_minute, w)[slot(sentiment)] as f64;
        let slots = self.baseline_slots(sentiment, w, b);
        let mean = if slots.is_empty() {
            0.0
        } else {
            slots.iter().sum::<f64>() / slots.len() as f64
        };
        current / mean.max(1.0)
    }

    /// How many standard deviations the current window is above the baseline mean; the
    /// deviation is floored at one mention so a flat baseline does not divide by zero.
    pub fn z_score(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        let (w, b) = (Self::minutes(window), Self::minutes(baseline));
        let current = self.span(self.now_minute, w)[slot(sentiment)] as f64;
        let slots = self.baseline_slots(sentiment, w, b);
        if slots.is_empty() {
            return current;
        }
        let n = slots.len() as f64;
        let mean = slots.iter().sum::<f64>() / n;
        let variance = slots.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (current - mean) / variance.sqrt().max(1.0)
    }

    /// Mentions per minute in the window.
    pub fn per_minute(&self, sentiment: Sentiment, window: Duration) -> f64 {
        let w = Self::minutes(window);
        self.span(self.now_minute, w)[slot(sentiment)] as f64 / w as f64
    }

    /// Counts of each minute in `(end - minutes, end]`, oldest first: `[total, negative]`.
    pub fn per_minute_series(&self, minutes: i64) -> Vec<(i64, u64, u64)> {
        let start = (self.now_minute - minutes + 1).max(self.first_minute);
        (start..=self.now_minute)
            .map(|m| {
                let c = self.span(m, 1);
                (m * MINUTE_MS, c[0], c[1])
            })
            .collect()
    }
}

impl SignalSource for MentionWindows {
    fn mentions(&self, window: Duration) -> MentionCounts {
        self.counts(window)
    }

    fn spike(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        self.spike_ratio(sentiment, window, baseline)
    }

    fn zscore(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        self.z_score(sentiment, window, baseline)
    }

    fn rate(&self, sentiment: Sentiment, window: Duration) -> f64 {
        self.per_minute(sentiment, window)
    }
}
