//! The fire times of a cron schedule in a time zone, under crier's daylight-saving rule.
//!
//! - Fixed-hour jobs (`0 2 * * *`) fire once per matching wall-clock time: a time in a
//!   spring-forward gap fires at the first instant after the gap, a repeated time fires at
//!   its first occurrence, and the day is never skipped or doubled.
//! - Jobs with `*` or a step in the hour field follow real instants: times in a gap do not
//!   fire and both passes of a repeated hour do, in instant order.
//!
//! The `cron` crate alone gets both wrong when iterated in a `chrono_tz::Tz` (it skips gap
//! times and yields both occurrences of a repeated time, whatever the hour field), so it is
//! only asked for wall-clock candidates, by iterating it on `Utc` with local times.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::cron::CronSchedule;
use super::cron_candidates::Candidates;
use super::local::{next_offset_change, offset_seconds, resolve_local};

/// Where the iteration of a job that follows real instants stands: the current stretch of
/// constant UTC offset, and how far it has been checked to extend.
struct Stretch {
    offset: i32,
    checked: DateTime<Utc>,
}

pub(crate) struct FireTimes<'a> {
    schedule: &'a CronSchedule,
    tz: Tz,
    candidates: Candidates<'a>,
    last: DateTime<Utc>,
    /// `None` for fixed-hour jobs.
    stretch: Option<Stretch>,
}

impl<'a> FireTimes<'a> {
    pub fn new(schedule: &'a CronSchedule, tz: Tz, after: DateTime<Utc>) -> Self {
        let local = after.with_timezone(&tz).naive_local();
        let (start, stretch) = if schedule.has_fixed_hour() {
            // A candidate up to a day earlier in wall-clock time can still resolve to an
            // instant after `after` (repeated hours, gaps); earlier results are dropped.
            (local - TimeDelta::days(1), None)
        } else {
            let offset = offset_seconds(tz, after);
            (
                local,
                Some(Stretch {
                    offset,
                    checked: after,
                }),
            )
        };
        FireTimes {
            schedule,
            tz,
            candidates: Candidates::after(schedule, start),
            last: after,
            stretch,
        }
    }

    fn next_fixed(&mut self) -> Option<DateTime<Tz>> {
        loop {
            let fire = resolve_local(self.candidates.next()?, self.tz);
            if fire.with_timezone(&Utc) > self.last {
                self.last = fire.with_timezone(&Utc);
                return Some(fire);
            }
        }
    }

    /// Maps each candidate to an instant with the current stretch's offset, and checks
    /// that the offset really holds until then; if it changes first, restarts the
    /// candidates at the wall-clock time where the new stretch begins.
    fn next_instant(&mut self) -> Option<DateTime<Tz>> {
        loop {
            let local = self.candidates.next()?;
            let stretch = self.stretch.as_mut()?;
            let fire = (local - TimeDelta::seconds(stretch.offset.into())).and_utc();
            match next_offset_change(self.tz, stretch.checked, fire, stretch.offset) {
                None => {
                    stretch.checked = fire;
                    if fire > self.last {
                        self.last = fire;
                        return Some(self.tz.from_utc_datetime(&fire.naive_utc()));
                    }
                }
                Some(change) => {
                    stretch.offset = offset_seconds(self.tz, change);
                    stretch.checked = change;
                    let begins = change.naive_utc() + TimeDelta::seconds(stretch.offset.into());
                    self.candidates =
                        Candidates::after(self.schedule, begins - TimeDelta::seconds(1));
                }
            }
        }
    }
}

impl Iterator for FireTimes<'_> {
    type Item = DateTime<Tz>;

    fn next(&mut self) -> Option<DateTime<Tz>> {
        if self.stretch.is_some() {
            self.next_instant()
        } else {
            self.next_fixed()
        }
    }
}
