//! `kind: crisis`: watched accounts, levels with conditions and steps, resolution.

use chrono::TimeDelta;

use super::{Validator, known_variables};
use crate::diagnostic::did_you_mean;
use crate::network::Capabilities;
use crate::playbook::plan::{CrisisPlan, LevelPlan, ResolvePlan, StepPlan};
use crate::playbook::raw::{Crisis, OnTimeout, Step};
use crate::playbook::yaml::{Node, Spanned};
use crate::script::ConditionContext;

/// Variables crisis texts see besides `vars`.
pub const CRISIS_TEXT_VARIABLES: [&str; 4] = ["signal", "incident", "level", "plan"];

impl Validator<'_> {
    pub(super) fn crisis(&mut self, node: &Node) -> Option<CrisisPlan> {
        let crisis = self.read::<Crisis>(node)?;
        let tz = self.zone(crisis.timezone.as_ref());
        let watch = self.accounts(&crisis.watch.accounts);
        for account in crisis.watch.accounts.iter() {
            self.account_can(account, Capabilities::READ_MENTIONS, "`watch:`");
        }
        let every = crisis
            .watch
            .every
            .as_ref()
            .and_then(|e| self.duration(e))
            .unwrap_or(TimeDelta::minutes(1));
        if crisis.levels.is_empty() {
            self.error(
                &crisis.name,
                format!("crisis plan `{}` has no levels", crisis.name.value),
                Some("add at least one level under `levels:`".into()),
            );
        }
        let level_names: Vec<String> = crisis.levels.iter().map(|l| l.name.value.clone()).collect();
        let known = known_variables(&crisis.vars, &CRISIS_TEXT_VARIABLES);
        let mut levels = Vec::new();
        for level in &crisis.levels {
            let when = self.condition(&level.when, ConditionContext::CrisisWhen);
            let steps = self.steps(&level.steps, &level_names, &known);
            if let Some(when) = when {
                levels.push(LevelPlan {
                    name: level.name.value.clone(),
                    when,
                    steps,
                });
            }
        }
        let resolve = crisis.resolve.as_ref().and_then(|resolve| {
            let when = self.condition(&resolve.when, ConditionContext::CrisisWhen);
            let hold_for = self.duration(&resolve.hold_for);
            let steps = self.steps(&resolve.steps, &level_names, &known);
            Some(ResolvePlan {
                when: when?,
                hold_for: hold_for?,
                steps,
            })
        });
        let ack_timeout = match crisis.ack.as_ref().and_then(|a| a.timeout.as_ref()) {
            Some(timeout) => {
                match self.duration(timeout) {
                    Some(d) if d <= TimeDelta::zero() => {
                        self.error(
                        timeout,
                        "`ack.timeout` must be longer than 0".to_string(),
                        Some("how long a notification may wait for `crier incident ack`, e.g. `15m`".into()),
                    );
                        TimeDelta::minutes(15)
                    }
                    Some(d) => d,
                    None => TimeDelta::minutes(15),
                }
            }
            None => TimeDelta::minutes(15),
        };
        let ack_reminders = crisis.ack.as_ref().and_then(|a| a.reminders).unwrap_or(1);
        let sentiment = crisis.sentiment.clone();
        Some(CrisisPlan {
            name: crisis.name.value.clone(),
            file: self.path(crisis.name.mark.file),
            timezone: tz,
            watch,
            keywords: crisis.watch.keywords.clone(),
            every,
            negative_words: sentiment
                .as_ref()
                .map(|s| s.negative.clone())
                .unwrap_or_default(),
            positive_words: sentiment
                .as_ref()
                .map(|s| s.positive.clone())
                .unwrap_or_default(),
            replace_builtin_lexicon: sentiment.is_some_and(|s| s.replace_builtin),
            levels,
            resolve,
            ack_timeout,
            ack_reminders,
            vars: crisis.vars.clone().into_iter().collect(),
        })
    }

    fn steps(
        &mut self,
        steps: &[Spanned<Step>],
        levels: &[String],
        known: &[&str],
    ) -> Vec<StepPlan> {
        steps
            .iter()
            .filter_map(|step| self.step(step, levels, known))
            .collect()
    }

    fn step(
        &mut self,
        step: &Spanned<Step>,
        levels: &[String],
        known: &[&str],
    ) -> Option<StepPlan> {
        let actions = [
            step.notify.is_some(),
            step.pause.is_some(),
            step.resume.is_some(),
            step.approve.is_some(),
            step.post.is_some(),
            step.wait.is_some(),
            step.escalate.is_some(),
        ];
        let hint =
            "a step is one of `notify`, `pause`, `resume`, `approve`, `post`, `wait` or `escalate`";
        match actions.iter().filter(|a| **a).count() {
            1 => {}
            0 => {
                self.error(step, "step does nothing", Some(hint.into()));
                return None;
            }
            _ => {
                self.error(
                    step,
                    "step does more than one thing",
                    Some(format!("{hint}; write each as its own `- ` item")),
                );
                return None;
            }
        }
        if let Some(text) = &step.text {
            if step.notify.is_none() {
                self.error(
                    text,
                    "`text` belongs to a `notify` step",
                    Some("a `post` step has its own `text` under `post:`".into()),
                );
            }
            self.text(text, known);
        }
        if let Some(people) = &step.notify {
            let people: Vec<String> = people
                .iter()
                .filter(|p| self.person(p))
                .map(|p| p.value.clone())
                .collect();
            return Some(StepPlan::Notify {
                people,
                text: step.text.as_ref().map(|t| t.value.clone()),
            });
        }
        if let Some(targets) = step.pause.as_ref().or(step.resume.as_ref()) {
            for target in targets.iter() {
                let known_target = matches!(target.as_str(), "campaigns" | "all")
                    || self.accounts.contains_key(target.as_str())
                    || self.references_unreliable;
                if !known_target {
                    let hint = did_you_mean(
                        target,
                        ["campaigns", "all"]
                            .into_iter()
                            .chain(self.accounts.keys().map(String::as_str)),
                    )
                    .or_else(|| Some("pause `campaigns`, `all`, or accounts by name".into()));
                    self.error(
                        target,
                        format!("unknown pause target `{}`", target.value),
                        hint,
                    );
                }
            }
            let targets = targets.iter().map(|t| t.value.clone()).collect();
            return Some(if step.pause.is_some() {
                StepPlan::Pause { targets }
            } else {
                StepPlan::Resume { targets }
            });
        }
        if let Some(approve) = &step.approve {
            let by = approve
                .by
                .iter()
                .filter(|p| self.person(p))
                .map(|p| p.value.clone())
                .collect();
            let timeout = approve.timeout.as_ref().and_then(|t| self.duration(t));
            return Some(StepPlan::Approve {
                by,
                timeout,
                on_timeout: approve.on_timeout.unwrap_or(OnTimeout::Escalate),
            });
        }
        if let Some(post) = &step.post {
            let to = self.accounts(&post.to);
            if !post.media.is_empty() {
                for account in post.to.iter() {
                    self.account_can(account, Capabilities::MEDIA, "`media:`");
                }
            }
            self.text(&post.text, known);
            return Some(StepPlan::Post {
                to,
                text: post.text.value.clone(),
                media: post.media.iter().map(|m| m.value.clone()).collect(),
            });
        }
        if let Some(wait) = &step.wait {
            return Some(StepPlan::Wait {
                duration: self.duration(wait)?,
            });
        }
        let escalate = step.escalate.as_ref().expect("one action");
        let to = match escalate.as_str() {
            "true" | "next" => None,
            name if levels.iter().any(|l| l == name) => Some(name.to_string()),
            name => {
                let hint = did_you_mean(name, levels.iter().map(String::as_str))
                    .or_else(|| Some("escalate to the `next` level or to a level by name".into()));
                self.error(escalate, format!("unknown level `{name}`"), hint);
                return None;
            }
        };
        Some(StepPlan::Escalate { to })
    }
}
