//! Durations as playbooks write them: a number and a unit (`90s`, `15m`, `2h`, `7d`,
//! `1w`), or several from largest to smallest unit (`1h30m`).

use chrono::TimeDelta;

use super::time_error::TimeError;

const HINT: &str = "durations are a number and a unit: `90s`, `15m`, `2h`, `7d`, `1w`";

/// Units from largest to smallest, with their length in seconds.
const UNITS: [(&str, i64); 5] = [
    ("w", 604_800),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

pub fn parse_duration(s: &str) -> Result<TimeDelta, TimeError> {
    let fail = |message: String, offset: usize, len: usize| {
        Err(TimeError::new(message, offset, len.max(1)).with_hint(HINT))
    };
    if s.is_empty() {
        return fail("duration is empty".to_owned(), 0, 0);
    }
    if s.starts_with('-') {
        return fail(format!("duration `{s}` is negative"), 0, 1);
    }
    let bytes = s.as_bytes();
    let mut total: i64 = 0;
    let mut smallest_used = None;
    let mut i = 0;
    while i < bytes.len() {
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return match s[i..].chars().next() {
                Some(c) if c.is_whitespace() => {
                    fail(format!("duration `{s}` contains a space"), i, c.len_utf8())
                }
                _ => fail(format!("expected a number in duration `{s}`"), i, 1),
            };
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let number = &s[digits_start..unit_start];
        let unit = &s[unit_start..i];
        if unit.is_empty() {
            return match s[i..].chars().next() {
                Some(c) if c.is_whitespace() => {
                    fail(format!("duration `{s}` contains a space"), i, c.len_utf8())
                }
                _ => fail(
                    format!("duration `{s}` has no unit after `{number}`"),
                    digits_start,
                    number.len(),
                ),
            };
        }
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            let hint = match unit {
                "y" | "mo" => "years and months vary in length; use days (`365d`) or a date",
                _ => HINT,
            };
            return Err(TimeError::new(
                format!("unknown duration unit `{unit}` in `{s}`"),
                unit_start,
                unit.len(),
            )
            .with_hint(hint));
        };
        if smallest_used.is_some_and(|used| rank <= used) {
            return fail(
                format!("units in duration `{s}` must go from largest to smallest, each once"),
                digits_start,
                i - digits_start,
            );
        }
        smallest_used = Some(rank);
        let value = number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[rank].1))
            .and_then(|n| total.checked_add(n))
            .filter(|n| *n <= TimeDelta::MAX.num_seconds());
        match value {
            Some(v) => total = v,
            None => return fail(format!("duration `{s}` is too long"), 0, s.len()),
        }
    }
    Ok(TimeDelta::seconds(total))
}

/// The shortest text [`parse_duration`] reads back as `d` (whole seconds): `1h30m`, `0s`.
pub fn format_duration(d: TimeDelta) -> String {
    let mut seconds = d.num_seconds();
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
        seconds = -seconds;
    }
    for (unit, length) in UNITS {
        if seconds >= length {
            out.push_str(&format!("{}{unit}", seconds / length));
            seconds %= length;
        }
    }
    if out.is_empty() || out == "-" {
        out = "0s".to_owned();
    }
    out
}
