//! `kind: rules`: limits, quiet hours, blackouts and content rules, and rule sets that
//! contradict themselves.

use std::collections::BTreeMap;

use super::Validator;
use crate::diagnostic::did_you_mean;
use crate::playbook::plan::{LimitPlan, QuietHoursPlan, RulesPlan};
use crate::playbook::raw::{LimitScope, Rules, Then};
use crate::playbook::yaml::Node;
use crate::schedule;
use crate::script::ConditionContext;

const UTM_KEYS: [&str; 5] = ["source", "medium", "campaign", "term", "content"];
const UTM_VARIABLES: [&str; 3] = ["network", "account", "campaign"];

impl Validator<'_> {
    pub(super) fn rules(&mut self, node: &Node) -> Option<RulesPlan> {
        let rules = self.read::<Rules>(node)?;
        let tz = self.zone(rules.timezone.as_ref());
        let applies_to: Vec<String> = if rules.applies_to.iter().any(|a| a.as_str() == "all") {
            Vec::new()
        } else {
            rules.applies_to.iter().map(|a| a.value.clone()).collect()
        };
        let mut limits = Vec::new();
        // Where each rate's `max` is written, to point a warning at it.
        let mut max_marks = Vec::new();
        for limit in &rules.limits {
            let each = limit.each.unwrap_or(LimitScope::Account);
            match (&limit.max, &limit.per, &limit.min_gap) {
                (Some(max), Some(per), None) => {
                    if max.value == 0 {
                        self.error(max, "a limit of 0 posts blocks every post", Some("to stop posting, use `crier pause`; a limit needs `max` of 1 or more".into()));
                    }
                    let per_text = per;
                    if let Some(per) = self.duration(per) {
                        if per.is_zero() {
                            self.error(
                                per_text,
                                "a window of 0 counts nothing",
                                Some("give the window posts are counted in, e.g. `per: 1h`".into()),
                            );
                        }
                        limits.push(LimitPlan::Rate {
                            max: max.value,
                            per,
                            each,
                        });
                        max_marks.push(max);
                    }
                }
                (None, None, Some(gap_text)) => {
                    if let Some(gap) = self.duration(gap_text) {
                        if gap.is_zero() {
                            self.push(
                                self.sources
                                    .error(gap_text, "a minimum gap of 0 has no effect")
                                    .warning(),
                            );
                        }
                        limits.push(LimitPlan::MinGap { gap, each });
                    }
                }
                _ => self.error(
                    limit,
                    "a limit is either `max` with `per`, or `min_gap`",
                    Some("`{ max: 4, per: 1h }` or `{ min_gap: 20m }`".into()),
                ),
            }
        }
        // A gap can make a rate unreachable: say so, it is usually a typo.
        let rates = limits.iter().filter_map(|limit| match limit {
            LimitPlan::Rate { max, per, each } => Some((*max, *per, *each)),
            LimitPlan::MinGap { .. } => None,
        });
        for ((max, per, each), max_text) in rates.zip(&max_marks) {
            let widest_gap = limits
                .iter()
                .filter_map(|other| match other {
                    LimitPlan::MinGap { gap, each: e } if *e == each && !gap.is_zero() => {
                        Some(*gap)
                    }
                    _ => None,
                })
                .max();
            if let Some(gap) = widest_gap {
                let fits = (per.num_milliseconds() - 1) / gap.num_milliseconds() + 1;
                if fits < i64::from(max) && !per.is_zero() {
                    let diagnostic = self
                        .sources
                        .error(
                            max_text,
                            format!(
                                "`max: {max}` per {} can never be reached: `min_gap: {}` allows at most {fits}",
                                schedule::format_duration(per),
                                schedule::format_duration(gap)
                            ),
                        )
                        .warning();
                    self.push(diagnostic);
                }
            }
        }
        let quiet_hours = rules.quiet_hours.as_ref().and_then(|quiet| {
            let from = schedule::parse_time_of_day(quiet.from.trim())
                .map_err(|e| self.time_error(&quiet.from, e))
                .ok();
            let to = schedule::parse_time_of_day(quiet.to.trim())
                .map_err(|e| self.time_error(&quiet.to, e))
                .ok();
            let (from, to) = (from?, to?);
            if from == to {
                self.error(
                    &quiet.to,
                    "quiet hours cover the whole day",
                    Some("`from` and `to` are equal, so no post could ever go out".into()),
                );
            }
            Some(QuietHoursPlan {
                from,
                to,
                then: quiet.then.unwrap_or(Then::Delay),
            })
        });
        let mut blackouts = Vec::new();
        for blackout in &rules.blackout {
            match schedule::parse_window_from(blackout.trim(), tz, self.day_one_date()) {
                Ok(window) => blackouts.push(window),
                Err(error) => self.time_error(blackout, error),
            }
        }
        let mut deny_words = Vec::new();
        let mut require = Vec::new();
        let mut append = None;
        let mut utm = BTreeMap::new();
        if let Some(content) = &rules.content {
            for word in &content.deny_words {
                if word.trim().is_empty() {
                    self.error(word, "an empty word cannot be denied", None);
                } else {
                    deny_words.push(word.value.clone());
                }
            }
            for (name, condition) in &content.require {
                if let Some(compiled) = self.condition(condition, ConditionContext::RulesRequire) {
                    require.push((name.clone(), compiled));
                }
            }
            append = content.append.as_ref().map(|a| a.value.clone());
            for (key, value) in &content.utm {
                if !UTM_KEYS.contains(&key.as_str()) {
                    let hint = did_you_mean(key, UTM_KEYS).unwrap_or_else(|| {
                        "UTM keys are `source`, `medium`, `campaign`, `term` and `content`".into()
                    });
                    self.error(value, format!("unknown UTM parameter `{key}`"), Some(hint));
                }
                self.text(value, &UTM_VARIABLES);
                utm.insert(key.clone(), value.value.clone());
            }
        }
        Some(RulesPlan {
            name: rules.name.value.clone(),
            file: self.path(rules.name.mark.file),
            timezone: tz,
            applies_to,
            limits,
            quiet_hours,
            blackouts,
            deny_words,
            require,
            append,
            utm,
        })
    }
}

/// Rule sets that together leave no time to post: for each pair that applies to some
/// account or campaign in common, quiet hours that between them cover the whole day.
pub(super) fn contradictions(rules: &[RulesPlan]) -> Vec<crate::diagnostic::Diagnostic> {
    let mut found = Vec::new();
    for (index, first) in rules.iter().enumerate() {
        for second in &rules[index + 1..] {
            let overlap = first.applies_to.is_empty()
                || second.applies_to.is_empty()
                || first
                    .applies_to
                    .iter()
                    .any(|a| second.applies_to.contains(a));
            let (Some(a), Some(b)) = (&first.quiet_hours, &second.quiet_hours) else {
                continue;
            };
            if !overlap || first.timezone != second.timezone {
                continue;
            }
            let mut covered = [false; 24 * 60];
            for quiet in [a, b] {
                mark_quiet_minutes(quiet, &mut covered);
            }
            if covered.iter().all(|c| *c) {
                found.push(crate::diagnostic::Diagnostic::file_error(
                    &second.file,
                    format!(
                        "rules `{}` and `{}` contradict each other: their quiet hours ({}–{} and {}–{}) together cover the whole day, so no post they both apply to could ever go out",
                        first.name,
                        second.name,
                        a.from.format("%H:%M"),
                        a.to.format("%H:%M"),
                        b.from.format("%H:%M"),
                        b.to.format("%H:%M"),
                    ),
                ));
            }
        }
    }
    found
}

fn mark_quiet_minutes(quiet: &QuietHoursPlan, covered: &mut [bool; 24 * 60]) {
    use chrono::Timelike;
    let minute = |t: chrono::NaiveTime| (t.hour() * 60 + t.minute()) as usize;
    let (from, to) = (minute(quiet.from), minute(quiet.to));
    let mut m = from;
    while m != to {
        covered[m] = true;
        m = (m + 1) % (24 * 60);
    }
}
