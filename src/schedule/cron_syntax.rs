//! The syntax of one crontab field: lists of `*`, numbers, names and ranges, each with an
//! optional step; errors name the field and point at the offending token.

use super::cron_error::CronError;
use crate::diagnostic::suggest;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
pub(crate) const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One of the five fields, with the range and names it accepts.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// "day" or "month", for "unknown day `MOM`".
    noun: &'static str,
}

pub(crate) const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        noun: "minute",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        noun: "hour",
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        noun: "day of month",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        noun: "month",
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &DAYS,
        noun: "day",
    },
];

/// Parses one field: a comma-separated list of `*`, `n`, `a-b`, each optionally `/step`.
pub(crate) fn parse_field(field: Field, text: &str, offset: usize) -> Result<u64, CronError> {
    let mut set = 0u64;
    let mut start = 0;
    for item in text.split(',') {
        let at = offset + start;
        start += item.len() + 1;
        if item.is_empty() {
            return Err(CronError::new(
                format!("{} field `{text}` has an empty list item", field.name),
                offset,
                text.len(),
            )
            .with_hint("list items are separated by single commas: `1,15,30`"));
        }
        set |= parse_item(field, item, at)?;
    }
    Ok(set)
}

fn parse_item(field: Field, item: &str, at: usize) -> Result<u64, CronError> {
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some((step, at + base.len() + 1))),
        None => (item, None),
    };
    let (lo, hi) = if base == "*" {
        (field.min, field.max)
    } else if let Some((a, b)) = base.split_once('-') {
        let lo = parse_value(field, a, at)?;
        let mut hi = parse_value(field, b, at + a.len() + 1)?;
        if field.max == 7 && hi == 0 && b.eq_ignore_ascii_case("SUN") {
            // `SAT-SUN` reads as the weekend: Sunday as the end of a range is day 7.
            hi = 7;
        }
        if lo > hi {
            return Err(CronError::new(
                format!("{} range `{base}` goes backwards", field.name),
                at,
                base.len(),
            )
            .with_hint(format!(
                "ranges go from low to high; split a wrap-around into two: `{lo}-{},{}-{hi}`",
                field.max, field.min
            )));
        }
        (lo, hi)
    } else {
        let value = parse_value(field, base, at)?;
        // `a/n` means from `a` to the end of the field's range.
        (value, if step.is_some() { field.max } else { value })
    };
    let step = match step {
        None => 1,
        Some((step, step_at)) => parse_step(field, step, step_at)?,
    };
    Ok((lo..=hi)
        .step_by(step as usize)
        .fold(0, |set, v| set | (1 << v)))
}

fn parse_step(field: Field, step: &str, at: usize) -> Result<u32, CronError> {
    match step.parse::<u32>() {
        Ok(n) if n >= 1 && step.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        Ok(_) => Err(CronError::new(
            format!(
                "step `{step}` in the {} field must be at least 1",
                field.name
            ),
            at,
            step.len(),
        )),
        Err(_) => Err(CronError::new(
            format!("step `{step}` in the {} field is not a number", field.name),
            at,
            step.len().max(1),
        )
        .with_hint("steps are written `*/15` or `0-30/5`")),
    }
}

/// A number in the field's range, or (for months and days of the week) a name.
fn parse_value(field: Field, token: &str, at: usize) -> Result<u32, CronError> {
    let len = token.len().max(1);
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        return match token.parse::<u32>() {
            Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
            _ => Err(CronError::new(
                format!(
                    "{} `{token}` is out of range {}-{}",
                    field.name, field.min, field.max
                ),
                at,
                len,
            )),
        };
    }
    if !field.names.is_empty()
        && !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_alphabetic())
    {
        let upper = token.to_ascii_uppercase();
        if let Some(i) = field.names.iter().position(|n| *n == upper) {
            return Ok(i as u32 + field.min);
        }
        let message = match suggest(token, field.names.iter().copied()) {
            Some(s) => format!("unknown {} `{token}`, did you mean `{s}`?", field.noun),
            None => format!("unknown {} `{token}`", field.noun),
        };
        return Err(CronError::new(message, at, len).with_hint(format!(
            "{}s are {}-{} or `{}`..`{}`",
            field.noun,
            field.min,
            field.max,
            field.names[0],
            field.names[field.names.len() - 1]
        )));
    }
    let message = if token.is_empty() {
        format!("a {} value is missing", field.name)
    } else {
        format!("{} `{token}` is not a number", field.name)
    };
    let names = match field.names {
        [] => String::new(),
        names => format!(" or `{}`..`{}`", names[0], names[names.len() - 1]),
    };
    let hint = format!(
        "{} values are {}-{}{names}",
        field.name, field.min, field.max
    );
    Err(CronError::new(message, at, len).with_hint(hint))
}
