//! Crisis plans under `crier run`: each engine tick reads the mentions stored since the last
//! one, applies the actions people recorded (`crier incident ack|approve|reject|resolve`),
//! evaluates the levels every `every`, and runs what is due. The runner's new state, the
//! incidents it changed, the runs that notify and post, and the pauses it sets or lifts are
//! committed in one transaction, so a restart never loses a step and never repeats one.

use chrono::{DateTime, Utc};

use super::core::Engine;
use super::links::notices;
use crate::crisis::IncidentReport;
use crate::crisis::runner::{
    Action, CONDITION_FAILURES_TO_ALERT, Effect, EffectKind, PlanRunner, Purpose, REPLAY_PAGE,
    RETENTION, RunnerState,
};
use crate::playbook::plan::{CrisisPlan, StepPlan};
use crate::store::{
    Batch, CrisisWrite, IncidentRow, ItemKey, NewPause, NewResume, NewRun, PauseScope, RunState,
    StepSpec, StoreError, StoreResult, to_millis,
};
use crate::text::Renderer;

/// Stored mentions older than this are forgotten (the longest window, and a day's margin).
const KEEP_MENTIONS_MS: i64 = RETENTION.as_millis() as i64 + 86_400_000;

impl Engine {
    /// Moves every crisis plan on to `now`; returns how many sends it committed.
    pub fn tick_crises(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let plan = self.plan.clone();
        let mut sends = 0;
        for crisis in &plan.crises {
            match self.tick_crisis(crisis, now) {
                Ok(count) => sends += count,
                Err(error) => {
                    // Whatever was not committed is rebuilt from the store next time.
                    self.crises.remove(&crisis.name);
                    return Err(error);
                }
            }
        }
        Ok(sends)
    }

    fn tick_crisis(&mut self, crisis: &CrisisPlan, now: DateTime<Utc>) -> StoreResult<usize> {
        let store = self.parts.store.clone();
        let now_ms = to_millis(now);
        let scripts = self.parts.scripts.clone();
        let (texts, stop) = (self.parts.texts.clone(), self.interrupt.clone());
        let renderer = Renderer::new(&texts, stop.as_ref());
        let mut runner = match self.crises.remove(&crisis.name) {
            Some((state, signals)) => {
                PlanRunner::resume(crisis, &scripts, renderer, state, signals)
            }
            None => restore(store.as_ref(), crisis, &scripts, renderer, now_ms)?,
        };
        let mut changed = false;

        // A page at a time: a burst of mentions (pushed in, or read after an outage) is never
        // held in memory all at once.
        loop {
            let page = store.crisis_mentions_page(
                &crisis.name,
                runner.state.mentions_read,
                now_ms - KEEP_MENTIONS_MS,
                REPLAY_PAGE,
            )?;
            for mention in &page {
                runner.observe(mention.at, &mention.author, &mention.text);
                runner.state.mentions_read = mention.seq;
                changed = true;
            }
            if page.len() < REPLAY_PAGE {
                break;
            }
        }

        let mut applied = Vec::new();
        for row in store.pending_incident_actions(&crisis.name)? {
            let outcome = match serde_json::from_str::<Action>(&row.action) {
                Err(error) => Some(format!("not an action crier knows: {error}")),
                Ok(_) if runner.open_incident() != Some(row.incident) => {
                    Some(format!("incident {} is not open", row.incident))
                }
                Ok(action) => runner.act(row.at.min(now_ms), &action).err(),
            };
            applied.push((row.id, outcome));
        }

        changed |= !applied.is_empty();
        if runner.evaluation_due(now_ms) {
            runner.evaluate(now_ms, store.next_incident_id()?);
        }
        runner.run_due(now_ms);
        let mut batch = Batch {
            now: now_ms,
            ..Batch::default()
        };
        let mut sends = self.condition_failure_alert(crisis, &mut runner.state, now, &mut batch);
        let effects = runner.take_effects();
        let closed = runner.take_closed();
        changed |= runner.take_changed();
        if !changed {
            self.crises.insert(crisis.name.clone(), runner.into_parts());
            return Ok(0);
        }

        let mut closed = closed;
        for effect in &effects {
            match self.crisis_effect(crisis, effect, now, &mut batch) {
                Ok(count) => sends += count,
                Err(refusal) => {
                    // The runner took the post for the response; it is not one.
                    tracing::error!(plan = %crisis.name, incident = effect.incident, "{refusal}");
                    let report = match runner.state.open.as_mut() {
                        Some(open) if open.report.id == effect.incident => Some(&mut open.report),
                        _ => closed.iter_mut().find(|r| r.id == effect.incident),
                    };
                    if let Some(report) = report {
                        report.timeline.push(crate::crisis::TimelineEntry {
                            at: effect.at,
                            actor: format!("crisis:{}", crisis.name),
                            kind: "step".into(),
                            detail: refusal,
                        });
                        if report.responded_at == Some(effect.at) {
                            report.responded_at = None;
                        }
                    }
                }
            }
        }
        let mut incidents: Vec<IncidentRow> = closed.iter().map(incident_row).collect();
        incidents.extend(runner.open_report().as_ref().map(incident_row));
        batch.crisis.push(CrisisWrite {
            plan: crisis.name.clone(),
            state: serde_json::to_string(&runner.state).expect("runner states serialise"),
            incidents,
            applied,
            forget_mentions_before: Some(now_ms - KEEP_MENTIONS_MS),
        });
        // A text cut short by a stop (a step's, a rule's value) left this tick incomplete:
        // none of it is committed, and it is done again after the next start.
        if self.interrupted() {
            return Err(StoreError::Interrupted);
        }
        store.commit(&batch)?;
        for report in &closed {
            tracing::info!(plan = %crisis.name, incident = report.id, "incident resolved");
        }
        self.crises.insert(crisis.name.clone(), runner.into_parts());
        Ok(sends)
    }

    /// After `CONDITION_FAILURES_TO_ALERT` failed evaluations in a row, tells every person
    /// the plan's levels notify, once per streak; returns how many sends.
    fn condition_failure_alert(
        &self,
        crisis: &CrisisPlan,
        state: &mut RunnerState,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> usize {
        let Some(failure) = state
            .condition_failure
            .as_mut()
            .filter(|f| f.failures >= CONDITION_FAILURES_TO_ALERT && !f.notified)
        else {
            return 0;
        };
        failure.notified = true;
        let mut people: Vec<String> = Vec::new();
        for level in &crisis.levels {
            for step in &level.steps {
                if let StepPlan::Notify { people: notify, .. } = step {
                    for person in notify {
                        if !people.contains(person) {
                            people.push(person.clone());
                        }
                    }
                }
            }
        }
        let accounts = self.notify_accounts(&people);
        let message = format!(
            "[{}] the crisis plan cannot evaluate its conditions ({} failed evaluations in a row): {}. \
             No incident opens, rises or resolves until they evaluate again; fix the plan or \
             watch the mentions by hand.",
            crisis.name, failure.failures, failure.error
        );
        let key = ItemKey::new(&crisis.name, "condition-failure");
        let fire_at = failure.since;
        let mut run = NewRun::running(key.clone(), fire_at, self.revision);
        run.reason = Some(format!("conditions failing: notify {}", people.join(", ")));
        for account in &accounts {
            let mut row = self.outbox_row(&key, fire_at, 0, account, &message, &[], None, now);
            row.post.notice = true;
            run.outbox.push(row);
        }
        let sends = run.outbox.len();
        run.steps.push(StepSpec::Notify {
            accounts,
            text: message,
        });
        run.current_step = 1;
        batch.runs.push(run);
        sends
    }

    /// Adds what one effect implies to `batch`; returns how many sends, or why a post was
    /// refused by the content rules (recorded as a rejected run, never sent).
    fn crisis_effect(
        &self,
        crisis: &CrisisPlan,
        effect: &Effect,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<usize, String> {
        let key = ItemKey::new(
            &crisis.name,
            format!("incident-{}/{}", effect.incident, effect.seq),
        );
        let fire_at = effect.at;
        let by = format!("crisis:{}", crisis.name);
        match &effect.kind {
            EffectKind::Pause { targets } => {
                for target in targets {
                    batch.pauses.push(NewPause {
                        scope: pause_scope(target),
                        until: None,
                        reason: format!(
                            "crisis plan {}: incident {} at {}",
                            crisis.name, effect.incident, effect.level
                        ),
                        by: by.clone(),
                    });
                }
                Ok(0)
            }
            EffectKind::Resume { targets } => {
                // Only this plan's own pauses: not a person's, nor another plan's.
                for target in targets {
                    batch.resumes.push(NewResume {
                        scope: pause_scope(target),
                        by: by.clone(),
                        paused_by: Some(by.clone()),
                    });
                }
                Ok(0)
            }
            EffectKind::Notify {
                people,
                text,
                purpose,
            } => {
                if self.notify_accounts(people).is_empty() {
                    tracing::warn!(
                        plan = %crisis.name,
                        people = %people.join(", "),
                        "nobody to notify: give these people a `notify:` account in crier.yaml"
                    );
                }
                let id = effect.incident;
                let (footer, label) = match purpose {
                    Purpose::Alert | Purpose::Reminder | Purpose::Escalation => (
                        format!("Acknowledge: crier incident ack {id} --by NAME"),
                        Some("Acknowledge in the browser"),
                    ),
                    Purpose::Approval => (
                        format!(
                            "Decide: crier incident approve {id} --by NAME, or crier incident reject {id} --by NAME --note WHY"
                        ),
                        Some("Decide in the browser"),
                    ),
                    Purpose::Resolved => (format!("Report: crier incident report {id}"), None),
                };
                let message = format!(
                    "[{}] incident {id} ({}): {text}\n{footer}",
                    crisis.name, effect.level
                );
                let links = label.and(self.parts.links.get());
                let link = links
                    .as_ref()
                    .map(|links| move |person: &str| links.incident(person, id, fire_at));
                let mut run = NewRun::running(key.clone(), fire_at, self.revision);
                run.reason = Some(format!("incident {id}: {NOTIFY} {}", people.join(", ")));
                for (accounts, text) in notices(
                    people,
                    |person| self.notify_accounts(&[person.to_string()]),
                    &message,
                    label.unwrap_or_default(),
                    link.as_ref().map(|l| l as &dyn Fn(&str) -> String),
                ) {
                    let step = run.steps.len();
                    for account in &accounts {
                        let mut row =
                            self.outbox_row(&key, fire_at, step, account, &text, &[], None, now);
                        row.post.notice = true;
                        run.outbox.push(row);
                    }
                    run.steps.push(StepSpec::Notify { accounts, text });
                }
                if run.steps.is_empty() {
                    run.steps.push(StepSpec::Notify {
                        accounts: Vec::new(),
                        text: message,
                    });
                }
                let sends = run.outbox.len();
                run.current_step = run.steps.len();
                batch.runs.push(run);
                Ok(sends)
            }
            EffectKind::Post { to, text, media } => {
                let mut run = NewRun::running(key.clone(), fire_at, self.revision);
                run.reason = Some(format!("incident {}: public post", effect.incident));
                let local = now.with_timezone(&crisis.timezone);
                // Content rules apply (banned words, text limits, UTM); quiet hours and
                // blackouts do not: a crisis response goes out when the plan says.
                let checked = crate::rules::check_post(
                    &self.plan,
                    &self.parts.scripts,
                    self.renderer(),
                    &crisis.name,
                    to,
                    text,
                    local,
                );
                // Stopped: the tick is not committed (see `tick_crisis`).
                let Ok(checked) = checked else {
                    return Ok(0);
                };
                match checked {
                    Err(rejection) => {
                        run.state = RunState::Rejected;
                        run.reason = Some(rejection.to_string());
                        batch.runs.push(run);
                        return Err(format!("post to {} not sent: {rejection}", to.join(", ")));
                    }
                    Ok(versions) => {
                        for (step, version) in versions.into_iter().enumerate() {
                            for account in &version.accounts {
                                run.outbox.push(self.outbox_row(
                                    &key,
                                    fire_at,
                                    step,
                                    account,
                                    &version.text,
                                    media,
                                    None,
                                    now,
                                ));
                            }
                            run.steps.push(StepSpec::Post {
                                to: version.accounts,
                                text: version.text,
                                media: media.clone(),
                                reply_to: None,
                            });
                        }
                        run.current_step = run.steps.len();
                    }
                }
                let sends = run.outbox.len();
                batch.runs.push(run);
                Ok(sends)
            }
        }
    }

    /// The accounts that reach `people`, each once, in order.
    pub(super) fn notify_accounts(&self, people: &[String]) -> Vec<String> {
        let mut accounts: Vec<String> = Vec::new();
        for person in people {
            for account in self
                .plan
                .people
                .get(person)
                .map(|p| &p.notify[..])
                .unwrap_or(&[])
            {
                if !accounts.contains(account) {
                    accounts.push(account.clone());
                }
            }
        }
        accounts
    }
}

/// A runner from the saved state (after a start or a reload), its windows rebuilt from the
/// stored mentions it had read.
fn restore<'a>(
    store: &dyn crate::store::Store,
    crisis: &'a CrisisPlan,
    scripts: &'a crate::script::ScriptEngine,
    texts: Renderer<'a>,
    now: i64,
) -> StoreResult<PlanRunner<'a>> {
    let state: RunnerState = match store.crisis_state(&crisis.name)? {
        Some(json) => {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?
        }
        None => RunnerState::default(),
    };
    let mut runner = PlanRunner::new(crisis, scripts, texts, state);
    runner.replay_stored(store, now - KEEP_MENTIONS_MS)?;
    Ok(runner)
}

/// The word a crisis run's reason has after its incident when it notifies people.
const NOTIFY: &str = "notify";

/// Whether a crisis run with this reason notifies people (rather than posts publicly).
pub(super) fn notifies(reason: &str) -> bool {
    reason.strip_prefix("incident ").is_some_and(|rest| {
        rest.split_once(": ")
            .is_some_and(|(_, what)| what.starts_with(NOTIFY))
    })
}

/// A `pause:`/`resume:` target: `campaigns`, `all`, or an account.
fn pause_scope(target: &str) -> PauseScope {
    match target {
        "campaigns" => PauseScope::Campaigns,
        "all" => PauseScope::All,
        account => PauseScope::Account(account.to_string()),
    }
}

fn incident_row(report: &IncidentReport) -> IncidentRow {
    IncidentRow {
        id: report.id,
        plan: report.plan.clone(),
        status: if report.resolved_at.is_some() {
            "resolved".into()
        } else {
            "open".into()
        },
        level: report.level.clone(),
        opened_at: report.opened_at,
        resolved_at: report.resolved_at,
        report: serde_json::to_string(report).expect("reports serialise"),
    }
}
