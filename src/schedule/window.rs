//! Time windows: `2026-12-31 18:00 .. 2027-01-01 12:00`, where a date alone stands for
//! its whole day (`2026-12-24 .. 2026-12-26` is three days; `2026-12-25` is one).

use chrono::{DateTime, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::local::resolve_local;
use super::time::{parse_date_from, parse_local_datetime_from};
use super::time_error::TimeError;

/// From `from` (inclusive) until `until` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: DateTime<Tz>,
    pub until: DateTime<Tz>,
}

impl TimeWindow {
    pub fn contains(&self, t: DateTime<Tz>) -> bool {
        self.from <= t && t < self.until
    }
}

pub fn parse_window(s: &str, tz: Tz) -> Result<TimeWindow, TimeError> {
    parse_window_from(s, tz, None)
}

/// The same, where dates may be written `day N` counted from `day_one`.
pub fn parse_window_from(
    s: &str,
    tz: Tz,
    day_one: Option<NaiveDate>,
) -> Result<TimeWindow, TimeError> {
    let (from_text, until_text, until_at) = match s.split_once("..") {
        Some((a, b)) => (a, b, a.len() + 2),
        None if s.trim().len() == 10 || is_day_alone(s.trim()) => (s, s, 0),
        None => {
            return Err(TimeError::new(format!("expected a window, found `{s}`"), 0, s.len().max(1))
                .with_hint("windows are written `2026-12-31 18:00 .. 2027-01-01 12:00`, or a date alone for one day"));
        }
    };
    let from = parse_bound(from_text, 0, tz, day_one, Bound::Start)?;
    let until = parse_bound(until_text, until_at, tz, day_one, Bound::End)?;
    if until.0 <= from.0 {
        return Err(TimeError::new(
            format!(
                "window ends before it starts: `{}` is not after `{}`",
                until.1, from.1
            ),
            until.2,
            until.1.len().max(1),
        )
        .with_hint("write the earlier time first: `2026-12-31 18:00 .. 2027-01-01 12:00`"));
    }
    Ok(TimeWindow {
        from: from.0,
        until: until.0,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Bound {
    Start,
    End,
}

/// One side of the window: the instant, its trimmed text, and the text's offset in `s`.
fn parse_bound(
    text: &str,
    at: usize,
    tz: Tz,
    day_one: Option<NaiveDate>,
    bound: Bound,
) -> Result<(DateTime<Tz>, &str, usize), TimeError> {
    let trimmed = text.trim();
    let at = at + (text.len() - text.trim_start().len());
    if trimmed.is_empty() {
        return Err(TimeError::new("window is missing a time", at, 1)
            .with_hint("windows are written `2026-12-31 18:00 .. 2027-01-01 12:00`"));
    }
    let instant = if trimmed.len() == 10 || is_day_alone(trimmed) {
        let day = parse_date_from(trimmed, day_one).map_err(|e| e.shifted(at))?;
        let day = match bound {
            Bound::Start => day,
            Bound::End => day.succ_opt().unwrap_or(NaiveDate::MAX),
        };
        resolve_local(day.and_time(NaiveTime::MIN), tz)
    } else {
        parse_local_datetime_from(trimmed, tz, day_one).map_err(|e| e.shifted(at))?
    };
    Ok((instant, trimmed, at))
}

/// `day N` with no time of day: a whole day, as a date alone is.
fn is_day_alone(s: &str) -> bool {
    s.strip_prefix("day ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
