//! Standard 5-field crontab expressions (`minute hour day-of-month month day-of-week`, and
//! the `@daily`-style macros), parsed with precise errors and evaluated in a time zone.
//!
//! Parsing and validation are ours, so errors point at the faulty token and the numbering
//! is crontab's; the `cron` crate then enumerates wall-clock candidates, and
//! `cron_fires` applies crier's daylight-saving rule to them.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::cron_candidates::wall_clock_schedules;
pub use super::cron_error::CronError;
use super::cron_fields::CronFields;
use super::cron_fires::FireTimes;
use crate::diagnostic::did_you_mean;

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const FIELD_LIST: &str = "minute hour day-of-month month day-of-week";

/// A parsed cron expression, ready to list its fire times in any time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    source: String,
    pub(crate) fields: CronFields,
    /// Wall-clock candidates are the union of these (two when the day fields are OR-ed).
    pub(crate) wall_clock: Vec<cron::Schedule>,
}

impl CronSchedule {
    pub fn parse(expr: &str) -> Result<CronSchedule, CronError> {
        let tokens: Vec<(usize, &str)> = expr
            .split_ascii_whitespace()
            .map(|t| (t.as_ptr() as usize - expr.as_ptr() as usize, t))
            .collect();
        let fields = match tokens.first() {
            None => {
                return Err(CronError::new("cron expression is empty", 0, expr.len())
                    .with_hint("write 5 fields, e.g. `0 9 * * MON` for 09:00 every Monday"));
            }
            Some(&(offset, word)) if word.starts_with('@') => parse_macro(&tokens, offset, word)?,
            Some(_) if tokens.len() != 5 => return Err(field_count_error(&tokens)),
            Some(_) => CronFields::parse(&tokens)?,
        };
        let wall_clock = wall_clock_schedules(&fields);
        Ok(CronSchedule {
            source: expr.to_owned(),
            fields,
            wall_clock,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fire instants strictly after `after`, in increasing order, evaluated in wall-clock
    /// time of `tz`.
    pub fn fire_times_after(
        &self,
        tz: Tz,
        after: DateTime<Utc>,
    ) -> impl Iterator<Item = DateTime<Tz>> + '_ {
        FireTimes::new(self, tz, after)
    }

    /// Whether the expression selects this wall-clock time (whole minutes only).
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.fields.matches(local)
    }

    /// Whether the hour field is fixed (no `*`, no step): such a job fires once a day
    /// across daylight-saving changes, rather than following real instants.
    pub fn has_fixed_hour(&self) -> bool {
        self.fields.fixed_hour
    }
}

fn parse_macro(
    tokens: &[(usize, &str)],
    offset: usize,
    word: &str,
) -> Result<CronFields, CronError> {
    if word.eq_ignore_ascii_case("@reboot") {
        return Err(
            CronError::new("`@reboot` is not supported", offset, word.len())
                .with_hint("crier schedules by the clock; use a trigger to act when crier starts"),
        );
    }
    let Some((_, expansion)) = MACROS.iter().find(|(m, _)| m.eq_ignore_ascii_case(word)) else {
        let message = format!("unknown macro `{word}`");
        let hint = did_you_mean(word, MACROS.iter().map(|(m, _)| *m)).unwrap_or_else(|| {
            "macros are `@yearly`, `@monthly`, `@weekly`, `@daily` and `@hourly`".to_owned()
        });
        return Err(CronError::new(message, offset, word.len()).with_hint(hint));
    };
    if let Some(&(extra, text)) = tokens.get(1) {
        return Err(CronError::new(
            format!("unexpected `{text}` after `{word}`"),
            extra,
            text.len(),
        )
        .with_hint(format!(
            "`{word}` stands for a whole expression (`{expansion}`)"
        )));
    }
    let expanded: Vec<(usize, &str)> = expansion.split(' ').map(|t| (offset, t)).collect();
    CronFields::parse(&expanded)
}

fn field_count_error(tokens: &[(usize, &str)]) -> CronError {
    let found = tokens.len();
    let message = format!("expected 5 fields ({FIELD_LIST}), found {found}");
    let (first, first_text) = tokens[0];
    let (last, last_text) = tokens[found - 1];
    match found {
        // Most likely a Quartz or `cron`-crate expression: point at the seconds field.
        6 => CronError::new(message, first, first_text.len())
            .with_hint("crier uses the standard 5-field crontab; remove the seconds field"),
        7 => CronError::new(message, first, first_text.len()).with_hint(
            "crier uses the standard 5-field crontab; remove the seconds and year fields",
        ),
        _ => CronError::new(message, first, last + last_text.len() - first)
            .with_hint("for example `0 9 * * MON` is 09:00 every Monday"),
    }
}
