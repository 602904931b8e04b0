//! JSON's one time format, in the CLI's output and the API's answers alike: RFC 3339 with the
//! offset of crier.yaml's time zone. The store's views keep epoch milliseconds; each front end
//! names the fields that are times and they are rewritten here, at any depth.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::schedule;

use crate::store::from_millis;

/// The time fields of a run in `crier history --format json` (and its steps and sends).
pub const RUN_TIMES: &[&str] = &[
    "fire_at",
    "created_at",
    "updated_at",
    "wake_at",
    "next_attempt_at",
];
/// The time fields of an approval (and its decisions).
pub const APPROVAL_TIMES: &[&str] = &["fire_at", "deadline", "created_at", "at"];
/// The time fields of an incident in `crier incidents --format json` (and its levels and
/// approvals).
pub const INCIDENT_TIMES: &[&str] = &[
    "at",
    "signal_at",
    "opened_at",
    "acknowledged_at",
    "responded_at",
    "resolved_at",
];

/// `value` with every integer under one of `fields` rewritten from epoch milliseconds to
/// RFC 3339 in `tz`; `null` stays `null`.
pub fn with_rfc3339_times(mut value: Value, fields: &[&str], tz: Tz) -> Value {
    rewrite(&mut value, fields, tz);
    value
}

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

fn rewrite(value: &mut Value, fields: &[&str], tz: Tz) {
    match value {
        Value::Object(object) => {
            for (key, field) in object.iter_mut() {
                match field.as_i64() {
                    Some(millis) if fields.contains(&key.as_str()) => {
                        *field = Value::String(from_millis(millis).with_timezone(&tz).to_rfc3339());
                    }
                    _ => rewrite(field, fields, tz),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, fields, tz)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_millisecond_fields_become_rfc3339_at_any_depth() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let value = serde_json::json!({
            "fire_at": 1_764_576_000_000_i64,
            "attempts": 3,
            "steps": [{ "wake_at": 1_764_579_600_000_i64 }, { "wake_at": null }],
        });
        let value = with_rfc3339_times(value, RUN_TIMES, tz);
        assert_eq!(value["fire_at"], "2025-12-01T09:00:00+01:00");
        assert_eq!(value["attempts"], 3);
        assert_eq!(value["steps"][0]["wake_at"], "2025-12-01T10:00:00+01:00");
        assert!(value["steps"][1]["wake_at"].is_null());
    }
}
