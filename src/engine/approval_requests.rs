//! Approval requests: opening them (with a run that tells the approvers) ahead of each
//! fire that needs one, and what a fire does at its time with the decision made or not.

use chrono::{DateTime, Utc};

use super::core::Engine;
use super::links::notices;
use super::timeline::{ItemRef, fires_between, next_fire};
use crate::playbook::plan::ApprovalPlan;
use crate::playbook::raw::PostApprovalTimeout;
use crate::preview::campaign_context;
use crate::store::{
    ApprovalState, Batch, ItemKey, Millis, NewApproval, NewRun, RunState, StepSpec, StoreResult,
    to_millis,
};

impl Engine {
    /// Opens the approval requests of the fires whose approvers are to be asked by `now`
    /// (`ask` before each deadline), each with a run that notifies the approvers, committed
    /// together: a request is opened and notified exactly once. Returns how many opened.
    pub fn open_approvals(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        for item in self.needs_approval.clone() {
            let post = item.post(&self.plan);
            let Some(approve) = post.approve.clone() else {
                continue;
            };
            let key = item.key(&self.plan);
            let horizon = now + approve.before + approve.ask;
            let after = self.asked_until.get(&key).copied().unwrap_or(now);
            if horizon <= after {
                continue;
            }
            for at in fires_between(&self.plan, item, after, horizon, 1_000) {
                let (request, notify) = self.approval_request(item, &approve, at, now)?;
                batch.approvals.push(request);
                batch.runs.extend(notify);
            }
            self.asked_until.insert(key, horizon);
        }
        let opened = batch.approvals.len();
        if opened > 0 {
            self.commit(batch)?;
        }
        Ok(opened)
    }

    /// When `open_approvals` next has a request to open (rehearsals jump there).
    pub fn next_approval_ask(&self) -> Option<DateTime<Utc>> {
        self.needs_approval
            .iter()
            .filter_map(|item| {
                let approve = item.post(&self.plan).approve.as_ref()?;
                let after = *self.asked_until.get(&item.key(&self.plan))?;
                let at = next_fire(&self.plan, *item, after)?;
                Some(at - approve.before - approve.ask)
            })
            .min()
    }

    /// The request for one fire, and the run that tells its approvers.
    pub(super) fn approval_request(
        &self,
        item: ItemRef,
        approve: &ApprovalPlan,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(NewApproval, Option<NewRun>)> {
        let campaign = item.campaign(&self.plan);
        let post = item.post(&self.plan);
        let key = item.key(&self.plan);
        let local = at.with_timezone(&campaign.timezone);
        let text = self
            .renderer()
            .render(&post.text, &campaign_context(campaign, &post.id, local))?
            .unwrap_or_else(|error| format!("(the text cannot be rendered: {})", error.message));
        let deadline = at - approve.before;
        let request = NewApproval {
            key: key.clone(),
            fire_at: to_millis(at),
            approvers: approve.by.clone(),
            need: approve.need.as_str().into(),
            deadline: to_millis(deadline),
            on_timeout: approve.on_timeout.as_str().into(),
            text: text.clone(),
            accounts: post.to.to_vec(),
        };
        if self.notify_accounts(&approve.by).is_empty() {
            return Ok((request, None));
        }
        let fmt = |t: DateTime<Utc>| {
            t.with_timezone(&campaign.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let message = format!(
            "Approval needed ({} of {}): {key} goes out {} on {}:\n{text}\nDecide by {}: `crier approve {key} --by NAME` or `crier reject {key} --by NAME --note WHY`",
            request.need,
            approve.by.join(", "),
            fmt(at),
            post.to.join(", "),
            fmt(deadline),
        );
        let notify_key = ItemKey::new(&key.playbook, format!("{}/approval", key.item));
        let links = self.parts.links.get();
        let (fire_at, due) = (request.fire_at, request.deadline);
        let key_ref = &key;
        let link = links
            .as_ref()
            .map(|links| move |person: &str| links.approval(person, key_ref, fire_at, due));
        let steps: Vec<StepSpec> = notices(
            &approve.by,
            |person| self.notify_accounts(&[person.to_string()]),
            &message,
            "Decide in the browser",
            link.as_ref().map(|l| l as &dyn Fn(&str) -> String),
        )
        .into_iter()
        .map(|(accounts, text)| StepSpec::Notify { accounts, text })
        .collect();
        let progress = self.execute(&notify_key, to_millis(at), &steps, 0, now)?;
        let run = NewRun {
            key: notify_key,
            fire_at: to_millis(at),
            revision: self.revision,
            state: RunState::Running,
            reason: Some(format!("asks for approval of {key}")),
            steps,
            current_step: progress.current_step,
            wake_at: None,
            outbox: progress.outbox,
        };
        Ok((request, Some(run)))
    }

    /// What a post that needs approval does at its time: `None` to go on (approved, or
    /// sent anyway by `on_timeout: send`), or the run's end (rejected, skipped) or wait
    /// (held for a decision).
    pub(super) fn approval_gate(
        &self,
        key: &ItemKey,
        approve: &ApprovalPlan,
        fire_at: Millis,
        run: &mut NewRun,
    ) -> StoreResult<Option<ApprovalOutcome>> {
        // A store error is not "no decision": the fire fails and is tried again.
        let request = self.parts.store.approval_for(key, fire_at)?;
        Ok(match request.as_ref().map(|r| r.state) {
            Some(ApprovalState::Approved) => {
                run.reason = Some(request.expect("found").summary());
                None
            }
            Some(ApprovalState::Rejected) => {
                Some(ApprovalOutcome::Rejected(request.expect("found").summary()))
            }
            _ => match approve.on_timeout {
                PostApprovalTimeout::Send => {
                    run.reason = Some(
                        "sent without approval: no decision by the deadline (on_timeout: send)"
                            .into(),
                    );
                    None
                }
                PostApprovalTimeout::Skip => Some(ApprovalOutcome::Skipped(
                    "no approval by the deadline (on_timeout: skip)".into(),
                )),
                PostApprovalTimeout::Hold => Some(ApprovalOutcome::Hold),
            },
        })
    }
}

pub(super) enum ApprovalOutcome {
    Rejected(String),
    Skipped(String),
    Hold,
}
