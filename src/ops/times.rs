//! Times as people write them and as JSON shows them, for every front end: `parse_instant`
//! reads `YYYY-MM-DD HH:MM`, a date or RFC 3339 in crier.yaml's zone; the RFC 3339 rewrite of
//! JSON times lives with the store's views (`store::json_times`) and is re-exported here.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::schedule;
pub use crate::store::json_times::{APPROVAL_TIMES, INCIDENT_TIMES, RUN_TIMES, with_rfc3339_times};

/// A time people write: `YYYY-MM-DD HH:MM` (in `tz`), `YYYY-MM-DD` (its midnight), or
/// RFC 3339. The error says what is wrong with it.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = schedule::parse_date(text.trim()) {
        return Ok(
            schedule::resolve_local(date.and_time(chrono::NaiveTime::MIN), tz).with_timezone(&Utc),
        );
    }
    schedule::parse_local_datetime(text.trim(), tz)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| e.to_string())
}
