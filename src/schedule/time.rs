//! Dates, times of day, datetimes and time zones as playbooks write them, parsed strictly
//! with errors that point at the faulty part. Durations and windows live in their own
//! modules and are re-exported here.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime};
use chrono_tz::Tz;

pub use super::duration::{format_duration, parse_duration};
pub use super::local::resolve_local;
pub use super::time_error::TimeError;
pub use super::window::{TimeWindow, parse_window, parse_window_from};
use crate::diagnostic::did_you_mean;

const DATE_HINT: &str = "dates are written `YYYY-MM-DD`, like `2026-12-01`";
const TIME_HINT: &str = "times of day are written `HH:MM` on a 24-hour clock, like `08:30`";
const DAY_HINT: &str =
    "days relative to `day_one` are written `day 1` (that day itself), `day 2`, …";
const DATETIME_HINT: &str =
    "write `2026-12-01 08:30`, or RFC 3339 with an offset like `2026-12-01T08:30:00+01:00`";

/// Whether `s` has ASCII digits at the positions `shape` marks `9` and the same other
/// characters elsewhere.
fn has_shape(s: &str, shape: &str) -> bool {
    s.len() == shape.len()
        && s.bytes().zip(shape.bytes()).all(|(c, p)| match p {
            b'9' => c.is_ascii_digit(),
            _ => c == p,
        })
}

pub fn parse_date(s: &str) -> Result<NaiveDate, TimeError> {
    parse_date_from(s, None)
}

/// A date, `YYYY-MM-DD`, or `day N`: the N-th day counted from `day_one` (day 1 is
/// `day_one` itself), for playbooks that tell a story relative to when they first ran.
pub fn parse_date_from(s: &str, day_one: Option<NaiveDate>) -> Result<NaiveDate, TimeError> {
    if let Some(day) = parse_day_number(s, day_one) {
        return day;
    }
    if !has_shape(s, "9999-99-99") {
        return Err(
            TimeError::new(format!("expected a date, found `{s}`"), 0, s.len().max(1))
                .with_hint(DATE_HINT),
        );
    }
    let number = |range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or_default();
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    if !(1..=12).contains(&month) {
        return Err(
            TimeError::new(format!("month `{month:02}` is out of range 01-12"), 5, 2)
                .with_hint(DATE_HINT),
        );
    }
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(|| {
        TimeError::new(format!("`{s}` is not a day of the calendar"), 8, 2).with_hint(format!(
            "that month has {} days",
            days_in_month(year as i32, month)
        ))
    })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(year, month, *d).is_some())
        .unwrap_or(28)
}

/// `HH:MM`, or `HH:MM:SS`, on a 24-hour clock.
pub fn parse_time_of_day(s: &str) -> Result<NaiveTime, TimeError> {
    if !has_shape(s, "99:99") && !has_shape(s, "99:99:99") {
        return Err(TimeError::new(
            format!("expected a time of day, found `{s}`"),
            0,
            s.len().max(1),
        )
        .with_hint(TIME_HINT));
    }
    let parts: Vec<u32> = s
        .split(':')
        .map(|p| p.parse().unwrap_or_default())
        .collect();
    let limits = [("hour", 23), ("minute", 59), ("second", 59)];
    for (i, (value, (name, max))) in parts.iter().zip(limits).enumerate() {
        if *value > max {
            return Err(TimeError::new(
                format!("{name} `{value:02}` is out of range 00-{max}"),
                i * 3,
                2,
            )
            .with_hint(TIME_HINT));
        }
    }
    Ok(
        NaiveTime::from_hms_opt(parts[0], parts[1], parts.get(2).copied().unwrap_or(0))
            .expect("fields are in range"),
    )
}

/// `day N` at the start of `s`, if `s` starts with the word `day`: the date it names, or why
/// it names none. The number ends at the first space.
fn parse_day_number(s: &str, day_one: Option<NaiveDate>) -> Option<Result<NaiveDate, TimeError>> {
    let rest = s.strip_prefix("day ")?;
    let digits = rest.split(' ').next().unwrap_or_default();
    let at = s.len() - rest.len();
    let number = match digits.parse::<u32>() {
        Ok(number) if number >= 1 => number,
        _ => {
            return Some(Err(TimeError::new(
                format!("expected a day number, found `{digits}`"),
                at,
                digits.len().max(1),
            )
            .with_hint(DAY_HINT)));
        }
    };
    let Some(day_one) = day_one else {
        return Some(Err(TimeError::new(
            format!("`day {number}` counts from `day_one`, and crier.yaml sets none"),
            0,
            at + digits.len(),
        )
        .with_hint(
            "add `day_one: first-run` (the day `crier run` first started) or a date like `day_one: 2026-12-01` to crier.yaml",
        )));
    };
    Some(
        day_one
            .checked_add_days(chrono::Days::new(u64::from(number - 1)))
            .ok_or_else(|| {
                TimeError::new(
                    format!("day {number} is past the calendar's end"),
                    at,
                    digits.len(),
                )
            }),
    )
}

/// A date and time in `tz` (`2026-12-01 08:30`, `2026-12-01T08:30:00`), under the
/// daylight-saving rule of [`resolve_local`]; or RFC 3339 with an offset, converted to `tz`.
pub fn parse_local_datetime(s: &str, tz: Tz) -> Result<DateTime<Tz>, TimeError> {
    parse_local_datetime_from(s, tz, None)
}

/// The same, where a date may also be written `day N HH:MM` (see [`parse_date_from`]).
pub fn parse_local_datetime_from(
    s: &str,
    tz: Tz,
    day_one: Option<NaiveDate>,
) -> Result<DateTime<Tz>, TimeError> {
    if let Some(day) = parse_day_number(s, day_one) {
        let day = day?;
        let time_at = s
            .find(' ')
            .and_then(|first| s[first + 1..].find(' ').map(|second| first + second + 2));
        let Some(time_at) = time_at else {
            return Err(
                TimeError::new(format!("`{s}` has no time of day"), 0, s.len())
                    .with_hint("write `day 3 10:00`"),
            );
        };
        let time = parse_time_of_day(s[time_at..].trim_end()).map_err(|e| e.shifted(time_at))?;
        return Ok(resolve_local(day.and_time(time), tz));
    }
    let shape_error = || {
        TimeError::new(
            format!("expected a date and time, found `{s}`"),
            0,
            s.len().max(1),
        )
        .with_hint(DATETIME_HINT)
    };
    if s.len() < 16 || !s.is_char_boundary(10) || !s.is_char_boundary(11) {
        return Err(shape_error());
    }
    let (date, separator, rest) = (&s[..10], &s[10..11], &s[11..]);
    if separator != " " && separator != "T" {
        return Err(shape_error());
    }
    let date = parse_date(date)?;
    let time_len = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    if time_len < rest.len() {
        let rfc3339 = format!("{}T{rest}", &s[..10]);
        return match DateTime::parse_from_rfc3339(&rfc3339) {
            Ok(t) => Ok(t.with_timezone(&tz)),
            Err(_) => Err(TimeError::new(
                format!("`{rest}` is not a valid time with a UTC offset"),
                11,
                rest.len(),
            )
            .with_hint(DATETIME_HINT)),
        };
    }
    let time = parse_time_of_day(rest).map_err(|e| e.shifted(11))?;
    Ok(resolve_local(date.and_time(time), tz))
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`; older aliases like `Europe/Kiev` too).
/// Old names IANA keeps as links to renamed zones. They are still accepted, but never
/// suggested, so a typo of `Europe/Kyiv` is not steered to `Europe/Kiev`.
const RENAMED_ZONES: &[&str] = &[
    "America/Godthab",
    "Asia/Calcutta",
    "Asia/Dacca",
    "Asia/Katmandu",
    "Asia/Macao",
    "Asia/Rangoon",
    "Asia/Saigon",
    "Asia/Thimbu",
    "Asia/Ujung_Pandang",
    "Asia/Ulan_Bator",
    "Atlantic/Faeroe",
    "Europe/Kiev",
    "Europe/Uzhgorod",
    "Europe/Zaporozhye",
    "Pacific/Ponape",
    "Pacific/Truk",
];

/// "did you mean `Europe/Kyiv`?" for `Kyiv` (or `kyiv`, `New York`): a city written without
/// its region.
fn zone_of_city(city: &str) -> Option<String> {
    let wanted = city.trim().replace(' ', "_");
    let zone = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|name| !RENAMED_ZONES.contains(name))
        .find(|name| {
            name.rsplit('/')
                .next()
                .is_some_and(|last| name.contains('/') && last.eq_ignore_ascii_case(&wanted))
        })?;
    Some(format!("did you mean `{zone}`?"))
}

pub fn parse_timezone(s: &str) -> Result<Tz, TimeError> {
    Tz::from_str(s).map_err(|_| {
        let names = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .filter(|name| !RENAMED_ZONES.contains(name));
        TimeError::new(format!("unknown time zone `{s}`"), 0, s.len().max(1)).with_optional_hint(
            did_you_mean(s, names)
                .or_else(|| zone_of_city(s))
                .or_else(|| {
                    Some("time zones are IANA names, like `Europe/Berlin` or `UTC`".to_owned())
                }),
        )
    })
}
