//! Quiet hours and blackouts: whether a post may go out at a given moment, and if not, what
//! happens (`then: delay` to the end of the window, or `then: skip`). Quiet hours are local
//! times in the rule set's time zone and may cross midnight; a window's end that falls in a
//! daylight-saving gap moves to the first moment that exists.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::applicable;
use crate::playbook::plan::{Plan, QuietHoursPlan};
use crate::playbook::raw::Then;

/// Why a post waits or is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The rule set's name.
    pub rule: String,
    /// `quiet hours 23:00–08:00` or `blackout 2026-12-31 18:00 – 2027-01-01 12:00`.
    pub window: String,
    pub then: Then,
    /// When the post may go out (for `delay`).
    pub until: DateTime<Utc>,
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.then {
            Then::Skip => write!(f, "skipped by rules `{}`: {}", self.rule, self.window),
            Then::Delay => write!(
                f,
                "delayed by rules `{}` ({}) until {}",
                self.rule,
                self.window,
                self.until.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// The hold on a post to `accounts` of `campaign` due at `at`, if a quiet-hours or blackout
/// window of a rule set that applies covers it. Windows that follow each other are chained:
/// the post waits until it is outside all of them. A skip anywhere skips.
pub fn hold(plan: &Plan, campaign: &str, accounts: &[String], at: DateTime<Utc>) -> Option<Hold> {
    let mut sets = Vec::new();
    for account in accounts {
        for set in applicable(&plan.rules, campaign, account) {
            if !sets
                .iter()
                .any(|s: &&crate::playbook::plan::RulesPlan| s.name == set.name)
            {
                sets.push(set);
            }
        }
    }
    let mut found: Option<Hold> = None;
    let mut t = at;
    // Each round moves past one window; a handful of chained windows at most.
    for _ in 0..16 {
        let mut moved = false;
        for set in &sets {
            let then = set.quiet_hours.as_ref().map_or(Then::Delay, |q| q.then);
            let covering = set
                .quiet_hours
                .as_ref()
                .and_then(|q| quiet_end(q, set.timezone, t).map(|end| (end, quiet_text(q))))
                .or_else(|| {
                    set.blackouts
                        .iter()
                        .find(|w| w.contains(t.with_timezone(&w.from.timezone())))
                        .map(|w| {
                            (
                                w.until.with_timezone(&Utc),
                                format!(
                                    "blackout {} – {}",
                                    w.from.format("%Y-%m-%d %H:%M"),
                                    w.until.format("%Y-%m-%d %H:%M")
                                ),
                            )
                        })
                });
            if let Some((end, window)) = covering {
                let hold = Hold {
                    rule: set.name.clone(),
                    window,
                    then,
                    until: end,
                };
                if then == Then::Skip {
                    return Some(hold);
                }
                t = end;
                moved = true;
                found = Some(hold);
            }
        }
        if !moved {
            break;
        }
    }
    found
}

fn quiet_text(quiet: &QuietHoursPlan) -> String {
    format!(
        "quiet hours {}–{}",
        quiet.from.format("%H:%M"),
        quiet.to.format("%H:%M")
    )
}

/// When the quiet hours covering `t` end, or `None` outside them. An empty window
/// (`from == to`) covers nothing.
fn quiet_end(quiet: &QuietHoursPlan, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = t.with_timezone(&tz);
    let time = local.time();
    let (from, to) = (quiet.from, quiet.to);
    let inside = if from < to {
        time >= from && time < to
    } else if from > to {
        time >= from || time < to
    } else {
        false
    };
    if !inside {
        return None;
    }
    let mut day = local.date_naive();
    if time >= to {
        day = day.succ_opt()?;
    }
    Some(first_existing(tz, day.and_time(to)))
}

/// `naive` in `tz`, or the first moment after it that exists (a daylight-saving gap).
fn first_existing(tz: Tz, naive: chrono::NaiveDateTime) -> DateTime<Utc> {
    let mut candidate = naive;
    for _ in 0..180 {
        if let Some(at) = tz.from_local_datetime(&candidate).earliest() {
            return at.with_timezone(&Utc);
        }
        candidate += TimeDelta::minutes(1);
    }
    Utc.from_utc_datetime(&naive)
}
