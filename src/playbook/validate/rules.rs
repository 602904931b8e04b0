//! `kind: rules`: limits, quiet hours, blackouts and content rules, and rule sets that
//! contradict themselves.

use std::collections::BTreeMap;

use super::Validator;
use crate::diagnostic::did_you_mean;
use crate::playbook::plan::{LimitPlan, QuietHoursPlan, RulesPlan};
use crate::playbook::raw::{LimitScope, Rules, Then};
use crate::playbook::yaml::Node;
use crate::schedule::{self, parse_window};
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
        for limit in &rules.limits {
            let each = limit.each.unwrap_or(LimitScope::Account);
            match (&limit.max, &limit.per, &limit.min_gap) {
                (Some(max), Some(per), None) => {
                    if max.value == 0 {
                        self.error(max, "a limit of 0 posts blocks every post", Some("to stop posting, use `crier pause`; a limit needs `max` of 1 or more".into()));
                    }
                    if let Some(per) = self.duration(per) {
                        limits.push(LimitPlan::Rate {
                            max: max.value,
                            per,
                            each,
                        });
                    }
                }
                (None, None, Some(gap)) => {
                    if let Some(gap) = self.duration(gap) {
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
            match parse_window(blackout.trim(), tz) {
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
