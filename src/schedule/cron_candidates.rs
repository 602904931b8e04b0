//! Wall-clock candidates: every local date and time a cron expression selects, in order,
//! enumerated by the `cron` crate, which does the calendar arithmetic (month lengths, leap
//! years, weekdays) over the field sets crier parsed itself.
//!
//! The crate is iterated on `Utc` with local times standing in for UTC ones, so it never
//! sees a daylight-saving change; [`super::cron_fires`] maps candidates to instants.

use chrono::NaiveDateTime;
use chrono::Utc;

use super::cron::CronSchedule;
use super::cron_fields::CronFields;
use super::cron_syntax::DAYS;

/// The `cron` crate schedules whose union is every wall-clock time the fields select.
///
/// They are written with explicit lists so the crate's conventions do not matter: seconds
/// `0` first (it requires a seconds field), days of the week as names (its numbers run 1-7
/// from Sunday, crontab's 0-7). The crate always ANDs the two day fields, so when crontab
/// ORs them (both restricted) we build one schedule per day field and merge them.
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
            .map(|d| DAYS[d])
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

/// Wall-clock candidates strictly after a local time: the merged, de-duplicated output of
/// the schedule's `cron` crate schedules.
pub(crate) enum Candidates<'a> {
    /// One schedule (the usual case): its times as they are asked for, none ahead.
    One(cron::ScheduleIterator<'a, Utc>),
    /// Two (the day fields OR-ed): merged, with each one's next time looked at ahead.
    Merged(Vec<(Option<NaiveDateTime>, cron::ScheduleIterator<'a, Utc>)>),
}

impl<'a> Candidates<'a> {
    pub fn after(schedule: &'a CronSchedule, local: NaiveDateTime) -> Self {
        if let [one] = schedule.wall_clock.as_slice() {
            return Candidates::One(one.after(&local.and_utc()));
        }
        let heads = schedule
            .wall_clock
            .iter()
            .map(|s| {
                let mut it = s.after(&local.and_utc());
                (it.next().map(|t| t.naive_utc()), it)
            })
            .collect();
        Candidates::Merged(heads)
    }
}

impl Iterator for Candidates<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let heads = match self {
            Candidates::One(it) => return it.next().map(|t| t.naive_utc()),
            Candidates::Merged(heads) => heads,
        };
        let least = heads.iter().filter_map(|(head, _)| *head).min()?;
        for (head, it) in heads {
            if *head == Some(least) {
                *head = it.next().map(|t| t.naive_utc());
            }
        }
        Some(least)
    }
}
