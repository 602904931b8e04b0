//! Wall-clock candidates: every local date and time a cron expression selects, in order,
//! found by bit arithmetic on the field sets crier parsed (month lengths, leap years and
//! weekdays from `chrono`'s dates), a day at a time: a schedule's next fire costs a few
//! operations per day it skips, not an iterator built for every fire.
//!
//! Candidates are wall-clock times, blind to daylight-saving changes;
//! [`super::cron_fires`] maps them to instants. They are the `cron` crate's, which crier
//! used to enumerate them (a test compares the two).

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

use super::cron::CronSchedule;
use super::cron_fields::CronFields;

/// The `cron` crate schedules whose union is every wall-clock time the fields select.
///
/// They are written with explicit lists so the crate's conventions do not matter: seconds
/// `0` first (it requires a seconds field), days of the week as names (its numbers run 1-7
/// from Sunday, crontab's 0-7). The crate always ANDs the two day fields, so when crontab
/// ORs them (both restricted) we build one schedule per day field and merge them.
#[cfg(test)]
pub(crate) fn wall_clock_schedules(f: &CronFields) -> Vec<cron::Schedule> {
    let minutes = list(f.minutes, 0, 59);
    let hours = list(f.hours, 0, 23);
    let dom = list(f.days_of_month, 1, 31);
    let months = list(f.months, 1, 12);
    let dow = if f.days_of_week == 0x7f {
        "*".to_owned()
    } else {
        (0..7)
            .filter(|d| f.days_of_week & (1 << d) != 0)
            .map(|d| super::cron_syntax::DAYS[d])
            .collect::<Vec<_>>()
            .join(",")
    };
    let build = |dom: &str, dow: &str| {
        format!("0 {minutes} {hours} {dom} {months} {dow}")
            .parse::<cron::Schedule>()
            .expect("an expression built from validated fields parses")
    };
    if f.dom_star || f.dow_star {
        vec![build(&dom, &dow)]
    } else {
        vec![build(&dom, "*"), build("*", &dow)]
    }
}

#[cfg(test)]
/// A set as a `cron` list: `*` when full, else the values joined by commas.
fn list(set: u64, min: u32, max: u32) -> String {
    let values: Vec<String> = (min..=max)
        .filter(|v| set & (1 << v) != 0)
        .map(|v| v.to_string())
        .collect();
    if values.len() == (max - min + 1) as usize {
        "*".to_owned()
    } else {
        values.join(",")
    }
}

/// The first year candidates are looked for in, and the last (the `cron` crate's range,
/// which these candidates have always followed).
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2100;

/// Wall-clock candidates strictly after a local time, in order: every whole minute whose
/// month, day (Vixie cron's rule), hour and minute the fields select, found by bit
/// arithmetic on the fields' sets, a day at a time.
pub(crate) struct Candidates<'a> {
    fields: &'a CronFields,
    /// The earliest time the next candidate may be (a whole minute); `None` once past the
    /// last year.
    from: Option<NaiveDateTime>,
}

impl<'a> Candidates<'a> {
    pub fn after(schedule: &'a CronSchedule, local: NaiveDateTime) -> Self {
        let minute = local
            .date()
            .and_hms_opt(local.hour(), local.minute(), 0)
            .expect("a valid time of day");
        Candidates {
            fields: &schedule.fields,
            from: minute.checked_add_signed(TimeDelta::minutes(1)),
        }
    }
}

impl Iterator for Candidates<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let found = first_from(self.fields, self.from?);
        self.from = found.and_then(|at| at.checked_add_signed(TimeDelta::minutes(1)));
        found
    }
}

/// The first wall-clock time at or after `from` (a whole minute) that the fields select.
fn first_from(fields: &CronFields, from: NaiveDateTime) -> Option<NaiveDateTime> {
    let (mut date, mut hour, mut minute) = if from.year() < FIRST_YEAR {
        (NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1)?, 0, 0)
    } else {
        (from.date(), from.hour(), from.minute())
    };
    while date.year() <= LAST_YEAR {
        if fields.months & (1 << date.month()) == 0 {
            let (year, month) = match date.month() {
                12 => (date.year() + 1, 1),
                month => (date.year(), month + 1),
            };
            date = NaiveDate::from_ymd_opt(year, month, 1)?;
            (hour, minute) = (0, 0);
            continue;
        }
        if fields.day_matches(date.day(), date.weekday().num_days_from_sunday())
            && let Some((h, m)) = first_time(fields, hour, minute)
        {
            return date.and_hms_opt(h, m, 0);
        }
        date = date.succ_opt()?;
        (hour, minute) = (0, 0);
    }
    None
}

/// The first (hour, minute) of a day at or after `hour:minute` that the fields select.
fn first_time(fields: &CronFields, hour: u32, minute: u32) -> Option<(u32, u32)> {
    let mut hours = fields.hours & (u64::MAX << hour);
    while hours != 0 {
        let h = hours.trailing_zeros();
        let from = if h == hour { minute } else { 0 };
        let minutes = fields.minutes & (u64::MAX << from);
        if minutes != 0 {
            return Some((h, minutes.trailing_zeros()));
        }
        hours &= hours - 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use rand::{Rng, SeedableRng};

    /// The `cron` crate's candidates, as crier enumerated them before: the schedules of
    /// `wall_clock_schedules`, merged and de-duplicated.
    fn crate_candidates(
        schedule: &CronSchedule,
        local: NaiveDateTime,
    ) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let schedules = wall_clock_schedules(&schedule.fields);
        let mut heads: Vec<_> = schedules
            .into_iter()
            .map(|s| {
                let mut it = s
                    .after(&local.and_utc())
                    .take(60)
                    .collect::<Vec<_>>()
                    .into_iter();
                (it.next().map(|t| t.naive_utc()), it)
            })
            .collect();
        std::iter::from_fn(move || {
            let least = heads.iter().filter_map(|(head, _)| *head).min()?;
            for (head, it) in &mut heads {
                if *head == Some(least) {
                    *head = it.next().map(|t: chrono::DateTime<Utc>| t.naive_utc());
                }
            }
            Some(least)
        })
    }

    /// Random fields and start times: the bit arithmetic lists exactly the `cron` crate's
    /// candidates, in the same order.
    #[test]
    fn candidates_are_the_cron_crates() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let field = |rng: &mut rand::rngs::StdRng, min: u32, max: u32, names: &[&str]| match rng
            .gen_range(0..6)
        {
            0 => "*".to_string(),
            1 => format!("*/{}", rng.gen_range(2..=(max - min + 1).min(12))),
            2 => format!("{}-{}", min, rng.gen_range(min..=max)),
            3 if !names.is_empty() => names[rng.gen_range(0..names.len())].to_string(),
            _ => (0..rng.gen_range(1..4))
                .map(|_| rng.gen_range(min..=max).to_string())
                .collect::<Vec<_>>()
                .join(","),
        };
        let mut checked = 0;
        while checked < 300 {
            let expr = format!(
                "{} {} {} {} {}",
                field(&mut rng, 0, 59, &[]),
                field(&mut rng, 0, 23, &[]),
                field(&mut rng, 1, 28, &[]),
                field(&mut rng, 1, 12, &["JAN-MAR", "FEB", "DEC"]),
                field(&mut rng, 0, 6, &["MON-FRI", "SAT,SUN", "TUE"]),
            );
            let Ok(schedule) = CronSchedule::parse(&expr) else {
                continue;
            };
            checked += 1;
            let start = NaiveDate::from_ymd_opt(rng.gen_range(2020..2040), 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                + TimeDelta::seconds(rng.gen_range(0..366 * 24 * 3600));
            let start = start + TimeDelta::milliseconds(rng.gen_range(0..3) * 500);
            let ours: Vec<_> = Candidates::after(&schedule, start).take(50).collect();
            let theirs: Vec<_> = crate_candidates(&schedule, start).take(50).collect();
            assert_eq!(ours, theirs, "`{expr}` after {start}");
        }
    }

    /// The last year has candidates, and after it there are none.
    #[test]
    fn candidates_end_with_the_year_2100() {
        let schedule = CronSchedule::parse("0 0 29 2 *").unwrap();
        let start = NaiveDate::from_ymd_opt(2095, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let ours: Vec<_> = Candidates::after(&schedule, start).collect();
        let theirs: Vec<_> = crate_candidates(&schedule, start).collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 1, "{ours:?}");
    }
}
