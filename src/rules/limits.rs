//! Limits: at most `max` posts per `per` window, and a minimum gap between posts, counted
//! per account, per campaign or per network. A post over a limit is never dropped: it is
//! placed at the first moment every limit that applies allows, and that moment is taken,
//! so the posts after it queue behind it. The dispatcher places real sends this way (from
//! the store's recent and future sends); `crier plan` places planned posts the same way.

use chrono::{DateTime, TimeDelta, Utc};

use super::applicable;
use crate::playbook::plan::{LimitPlan, Plan, RulesPlan};
use crate::playbook::raw::LimitScope;

/// A send that counts against the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub account: String,
    pub playbook: String,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// Why a post goes out later than it was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delay {
    /// The rule set's name.
    pub rule: String,
    /// `at most 4 per 1h per account` or `at least 20m between posts per account`.
    pub limit: String,
    pub until: DateTime<Utc>,
}

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delayed by rules `{}` ({}) until {}",
            self.rule,
            self.limit,
            self.until.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// Places posts against the limits, remembering every slot taken.
pub struct Limiter<'a> {
    plan: &'a Plan,
    taken: Vec<Taken>,
}

impl<'a> Limiter<'a> {
    /// A limiter that knows the sends already made or placed.
    pub fn new(plan: &'a Plan, taken: Vec<Taken>) -> Self {
        Limiter { plan, taken }
    }

    /// Whether any rule set has a limit (if not, nothing need be looked up).
    pub fn any(plan: &Plan) -> bool {
        plan.rules.iter().any(|set| !set.limits.is_empty())
    }

    /// How far back sends can matter: the longest window or gap of any limit.
    pub fn lookback(plan: &Plan) -> TimeDelta {
        plan.rules
            .iter()
            .flat_map(|set| &set.limits)
            .map(|limit| match limit {
                LimitPlan::Rate { per, .. } => *per,
                LimitPlan::MinGap { gap, .. } => *gap,
            })
            .max()
            .unwrap_or_default()
    }

    /// Places a send of `playbook` by `account` due at `at`: the moment it may go out
    /// (`None` if at once, or why not), and takes that slot. A `reserved` send (one a limit
    /// placed at `at` before) is only checked against the slots up to `at`: the ones after
    /// it were placed behind it.
    pub fn place(
        &mut self,
        account: &str,
        playbook: &str,
        at: DateTime<Utc>,
        reserved: bool,
    ) -> Option<Delay> {
        let horizon = if reserved {
            at.timestamp_millis()
        } else {
            i64::MAX
        };
        let limits: Vec<(&RulesPlan, &LimitPlan)> = applicable(&self.plan.rules, playbook, account)
            .into_iter()
            .flat_map(|set| set.limits.iter().map(move |limit| (set, limit)))
            .collect();
        let mut t = at.timestamp_millis();
        let mut cause = None;
        // Each round moves past what one limit forbids; bounded, as each move is forward
        // to a point past some taken send.
        for _ in 0..10_000 {
            let mut moved = false;
            for (set, limit) in &limits {
                let mut times = self.times_in_scope(limit_scope(limit), account, playbook);
                times.retain(|time| *time <= horizon);
                let fit = first_fit(limit, &times, t);
                if fit > t {
                    t = fit;
                    moved = true;
                    cause = Some((*set, *limit));
                }
            }
            if !moved {
                break;
            }
        }
        self.taken.push(Taken {
            account: account.to_string(),
            playbook: playbook.to_string(),
            at: t,
        });
        let (set, limit) = cause?;
        Some(Delay {
            rule: set.name.clone(),
            limit: describe(limit),
            until: DateTime::from_timestamp_millis(t).unwrap_or(at),
        })
    }

    /// The times of the taken sends `scope` counts together with one by `account` for
    /// `playbook`, sorted.
    fn times_in_scope(&self, scope: LimitScope, account: &str, playbook: &str) -> Vec<i64> {
        let network = |name: &str| self.plan.accounts.get(name).map(|a| a.network);
        let mut times: Vec<i64> = self
            .taken
            .iter()
            .filter(|taken| match scope {
                LimitScope::Account => taken.account == account,
                LimitScope::Campaign => taken.playbook == playbook,
                LimitScope::Network => network(&taken.account) == network(account),
            })
            .map(|taken| taken.at)
            .collect();
        times.sort_unstable();
        times
    }
}

fn limit_scope(limit: &LimitPlan) -> LimitScope {
    match limit {
        LimitPlan::Rate { each, .. } | LimitPlan::MinGap { each, .. } => *each,
    }
}

/// How a limit reads in a note: `at most 4 per 1h per account`.
pub fn describe(limit: &LimitPlan) -> String {
    let each = |scope: &LimitScope| match scope {
        LimitScope::Account => "account",
        LimitScope::Campaign => "campaign",
        LimitScope::Network => "network",
    };
    match limit {
        LimitPlan::Rate { max, per, each: e } => format!(
            "at most {max} per {} per {}",
            crate::schedule::format_duration(*per),
            each(e)
        ),
        LimitPlan::MinGap { gap, each: e } => format!(
            "at least {} between posts per {}",
            crate::schedule::format_duration(*gap),
            each(e)
        ),
    }
}

/// The first moment at or after `t` that `limit` allows one more send, given the sorted
/// `times` of the sends it counts (past and already placed in the future).
fn first_fit(limit: &LimitPlan, times: &[i64], t: i64) -> i64 {
    let span = match limit {
        LimitPlan::Rate { per, .. } => per.num_milliseconds(),
        LimitPlan::MinGap { gap, .. } => gap.num_milliseconds(),
    }
    .max(1);
    // A send stops constraining a moment `span` after it; the first fit is `t` or one of
    // those moments. The last of them always fits: no send is within `span` of it.
    let mut candidates: Vec<i64> = std::iter::once(t)
        .chain(times.iter().map(|x| x + span).filter(|c| *c > t))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    for candidate in candidates {
        let fits = match limit {
            LimitPlan::Rate { max, .. } => fits_rate(*max, span, times, candidate),
            LimitPlan::MinGap { .. } => fits_gap(span, times, candidate),
        };
        if fits {
            return candidate;
        }
    }
    unreachable!("the last candidate always fits")
}

/// Whether a send at `c` keeps every window of length `per` holding it at `max` or fewer.
fn fits_rate(max: u32, per: i64, times: &[i64], c: i64) -> bool {
    let near: Vec<i64> = times
        .iter()
        .copied()
        .filter(|x| (x - c).abs() < per)
        .collect();
    if near.len() < max as usize {
        return true;
    }
    // The windows `[s, s + per)` holding `c` that could be fullest start at `c - per + 1`
    // or at a send in `(c - per, c]`.
    std::iter::once(c - per + 1)
        .chain(near.iter().copied().filter(|x| *x <= c))
        .all(|s| {
            let inside = near.iter().filter(|x| **x >= s && **x < s + per).count();
            inside < max as usize
        })
}

fn fits_gap(gap: i64, times: &[i64], c: i64) -> bool {
    times.iter().all(|x| (x - c).abs() >= gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn rate(max: u32, minutes: i64) -> LimitPlan {
        LimitPlan::Rate {
            max,
            per: TimeDelta::minutes(minutes),
            each: LimitScope::Account,
        }
    }

    fn gap(minutes: i64) -> LimitPlan {
        LimitPlan::MinGap {
            gap: TimeDelta::minutes(minutes),
            each: LimitScope::Account,
        }
    }

    #[test]
    fn a_rate_fills_then_waits_for_the_oldest_to_leave_the_window() {
        let limit = rate(2, 60);
        assert_eq!(first_fit(&limit, &[], 0), 0);
        assert_eq!(first_fit(&limit, &[0], 0), 0);
        assert_eq!(first_fit(&limit, &[0, 0], 0), 60 * MIN);
        assert_eq!(first_fit(&limit, &[0, 10 * MIN], 20 * MIN), 60 * MIN);
        // A send already placed in the future counts too.
        assert_eq!(first_fit(&limit, &[0, 50 * MIN], 20 * MIN), 60 * MIN);
        assert_eq!(
            first_fit(&limit, &[0, 50 * MIN, 55 * MIN], 20 * MIN),
            110 * MIN
        );
    }

    #[test]
    fn a_gap_keeps_its_distance_on_both_sides() {
        let limit = gap(20);
        assert_eq!(first_fit(&limit, &[0], 5 * MIN), 20 * MIN);
        assert_eq!(first_fit(&limit, &[0, 30 * MIN], 5 * MIN), 50 * MIN);
        assert_eq!(first_fit(&limit, &[0, 60 * MIN], 25 * MIN), 25 * MIN);
    }
}
