//! The API's bodies: what each endpoint answers and takes, as the OpenAPI document describes
//! them (`utoipa` derives their schemas). Made from the operator layer's views; times are
//! RFC 3339 with the offset of crier.yaml's time zone, as in the CLI's JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ops::views::{NextFire, OpenIncident, PauseHolding};
use crate::store::{
    ApprovalView, IncidentRow, Millis, OutboxView, PauseScope, PauseView, RunView, StepView,
    from_millis,
};

/// `at` in `tz`, RFC 3339.
pub fn time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339()
}

fn millis(at: Millis, tz: Tz) -> String {
    time(from_millis(at), tz)
}

fn text_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` while the server answers.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// The service runs a valid revision of the playbooks.
    pub playbooks_loaded: bool,
    /// The store answered.
    pub store_reachable: bool,
    /// What is not ready, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One line of the plan: the same fields as `crier plan --format json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedItem {
    #[schema(format = DateTime)]
    pub at: String,
    pub playbook: String,
    pub item: String,
    /// `post`, `contest-announce`, `entries-close` or `draw`.
    pub kind: String,
    pub to: Vec<String>,
    pub text: String,
    /// The posting rules that changed this text, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Who must approve it first, by when, and what happens without a decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Its `when:`, decided at fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Why the posting rules reject it: it would never go out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Start: `YYYY-MM-DD HH:MM` in crier.yaml's time zone, a date, or RFC 3339; now if absent.
    pub from: Option<String>,
    /// End (exclusive), same forms as `from`.
    pub until: Option<String>,
    /// Length of the window in days, when `until` is absent (14 by default; a window is at
    /// most 366 days).
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Step {
    pub index: u64,
    pub kind: String,
    /// `pending`, `waiting`, `done`, `skipped`, `failed`…
    pub state: String,
    #[schema(format = DateTime)]
    pub wake_at: Option<String>,
    pub reason: Option<String>,
}

impl Step {
    fn of(step: &StepView, tz: Tz) -> Step {
        Step {
            index: step.index as u64,
            kind: step.kind.clone(),
            state: step.state.as_str().into(),
            wake_at: step.wake_at.map(|at| millis(at, tz)),
            reason: step.reason.clone(),
        }
    }
}

/// One send of a run, to one account.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSend {
    /// The step that made it.
    pub step: u64,
    pub account: String,
    /// `pending`, `sending`, `sent`, `failed`, `held` or `skipped`.
    pub state: String,
    pub attempts: u32,
    #[schema(format = DateTime)]
    pub next_attempt_at: String,
    /// The network's id of the post, once sent.
    pub remote_id: Option<String>,
    pub error: Option<String>,
    /// Why it waits or was dropped (a pause, a limit).
    pub note: Option<String>,
    pub text: String,
}

impl RunSend {
    fn of(send: &OutboxView, tz: Tz) -> RunSend {
        RunSend {
            step: send.step as u64,
            account: send.account.clone(),
            state: send.state.as_str().into(),
            attempts: send.attempts,
            next_attempt_at: millis(send.next_attempt_at, tz),
            remote_id: send.remote_id.clone(),
            error: send.error.clone(),
            note: send.note.clone(),
            text: send.text.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Run {
    pub id: i64,
    pub playbook: String,
    pub item: String,
    #[schema(format = DateTime)]
    pub fire_at: String,
    /// The playbook revision it was made from.
    pub revision: i64,
    /// `running`, `waiting`, `succeeded`, `failed`, `skipped`, `missed` or `rejected`.
    pub state: String,
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub steps: Vec<Step>,
    pub sends: Vec<RunSend>,
}

impl Run {
    pub fn of(run: &RunView, tz: Tz) -> Run {
        Run {
            id: run.id,
            playbook: run.playbook.clone(),
            item: run.item.clone(),
            fire_at: millis(run.fire_at, tz),
            revision: run.revision,
            state: run.state.as_str().into(),
            reason: run.reason.clone(),
            created_at: millis(run.created_at, tz),
            updated_at: millis(run.updated_at, tz),
            steps: run.steps.iter().map(|s| Step::of(s, tz)).collect(),
            sends: run.outbox.iter().map(|s| RunSend::of(s, tz)).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// Only this playbook's runs.
    pub playbook: Option<String>,
    /// Only runs fired at or after this time (same forms as the plan's `from`).
    pub since: Option<String>,
    /// Only runs in this state.
    pub state: Option<String>,
    /// Only runs (and sends) to this account.
    pub account: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// At most this many (50 by default, 500 at most).
    pub limit: Option<usize>,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A send with the run it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendItem {
    pub run: i64,
    pub playbook: String,
    pub item: String,
    #[serde(flatten)]
    pub send: RunSend,
}

/// A page of sends, of runs newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendPage {
    pub sends: Vec<SendItem>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl SendPage {
    pub fn of(runs: &[RunView], next: Option<String>, state: Option<&str>, tz: Tz) -> SendPage {
        SendPage {
            sends: runs
                .iter()
                .flat_map(|run| {
                    run.outbox.iter().map(move |send| SendItem {
                        run: run.id,
                        playbook: run.playbook.clone(),
                        item: run.item.clone(),
                        send: RunSend::of(send, tz),
                    })
                })
                .filter(|send| state.is_none_or(|s| send.send.state == s))
                .collect(),
            next,
        }
    }
}

/// What a pause covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scope {
    /// `all`, `campaigns`, `account` or `campaign`.
    pub kind: String,
    /// The account or campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Scope {
    pub fn of(scope: &PauseScope) -> Scope {
        Scope {
            kind: scope.kind().into(),
            name: scope.name().map(str::to_string),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pause {
    pub id: i64,
    pub scope: Scope,
    #[schema(format = DateTime)]
    pub until: Option<String>,
    pub reason: String,
    pub by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// How many sends it holds now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
}

impl Pause {
    pub fn of(pause: &PauseView, held: Option<usize>, tz: Tz) -> Pause {
        Pause {
            id: pause.id,
            scope: Scope::of(&pause.scope),
            until: pause.until.map(|at| millis(at, tz)),
            reason: pause.reason.clone(),
            by: pause.by.clone(),
            created_at: millis(pause.created_at, tz),
            held: held.map(|n| n as u64),
        }
    }

    pub fn holding(holding: &PauseHolding, tz: Tz) -> Pause {
        Pause::of(&holding.pause, Some(holding.held), tz)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Next {
    #[schema(format = DateTime)]
    pub at: String,
    /// `PLAYBOOK/ITEM`.
    pub item: String,
    pub to: Vec<String>,
}

impl Next {
    pub fn of(next: &NextFire, tz: Tz) -> Next {
        Next {
            at: time(next.at, tz),
            item: next.item.clone(),
            to: next.to.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenIncidentSummary {
    pub id: i64,
    pub plan: String,
    pub level: String,
    #[schema(format = DateTime)]
    pub opened_at: String,
    pub acknowledged_by: Option<String>,
}

impl OpenIncidentSummary {
    pub fn of(open: &OpenIncident, tz: Tz) -> OpenIncidentSummary {
        OpenIncidentSummary {
            id: open.id,
            plan: open.plan.clone(),
            level: open.level.clone(),
            opened_at: time(open.opened_at, tz),
            acknowledged_by: open.acknowledged_by.clone(),
        }
    }
}

/// What `crier status` shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub store: String,
    pub store_exists: bool,
    /// The next fires, soonest first (at most ten).
    pub next: Vec<Next>,
    /// How many more items have a next fire.
    pub more: u64,
    pub open_incidents: Vec<OpenIncidentSummary>,
    pub pauses: Vec<Pause>,
    /// Runs by state.
    pub runs: BTreeMap<String, i64>,
    /// Sends by state.
    pub sends: BTreeMap<String, i64>,
    /// Runs running or waiting, oldest first.
    pub in_flight: Vec<Run>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDecision {
    pub by: String,
    /// `approve` or `reject`.
    pub decision: String,
    pub note: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
}

/// A post waiting for (or decided by) people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub id: i64,
    pub playbook: String,
    pub item: String,
    #[schema(format = DateTime)]
    pub fire_at: String,
    pub approvers: Vec<String>,
    /// `any` or `all`.
    pub need: String,
    #[schema(format = DateTime)]
    pub deadline: String,
    pub on_timeout: String,
    pub text: String,
    pub accounts: Vec<String>,
    /// `pending`, `approved`, `rejected`, `expired`…
    pub state: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub decisions: Vec<ApprovalDecision>,
}

impl Approval {
    pub fn of(approval: &ApprovalView, tz: Tz) -> Approval {
        Approval {
            id: approval.id,
            playbook: approval.playbook.clone(),
            item: approval.item.clone(),
            fire_at: millis(approval.fire_at, tz),
            approvers: approval.approvers.clone(),
            need: approval.need.clone(),
            deadline: millis(approval.deadline, tz),
            on_timeout: approval.on_timeout.clone(),
            text: approval.text.clone(),
            accounts: approval.accounts.clone(),
            state: text_of(&approval.state),
            created_at: millis(approval.created_at, tz),
            decisions: approval
                .decisions
                .iter()
                .map(|d| ApprovalDecision {
                    by: d.by.clone(),
                    decision: text_of(&d.decision),
                    note: d.note.clone(),
                    at: millis(d.at, tz),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllParams {
    /// Decided or resolved ones too, not only those still open.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Kept with the decision; a rejection needs one.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub campaigns: Vec<String>,
    /// Hold every post.
    #[serde(default)]
    pub all: bool,
    /// Lift by itself at this time (same forms as the plan's `from`).
    #[serde(default)]
    pub until: Option<String>,
    /// Why: shown to everyone who looks.
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub campaigns: Vec<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resumed {
    /// How many pauses were lifted.
    pub lifted: u64,
    /// What was named but had no pause.
    pub idle: Vec<Scope>,
    pub still_paused: Vec<Pause>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// The campaign.
    pub playbook: String,
    /// The post's id.
    pub item: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Triggered {
    pub run: Option<Run>,
    /// Some sends still wait (a pause, a limit, a retry, a stop that came once the run was
    /// committed); the service sends them.
    pub waiting: bool,
}

/// An incident, without its report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incident {
    pub id: i64,
    pub plan: String,
    /// `open` or `resolved`.
    pub status: String,
    pub level: String,
    #[schema(format = DateTime)]
    pub opened_at: String,
    #[schema(format = DateTime)]
    pub resolved_at: Option<String>,
}

impl Incident {
    pub fn of(row: &IncidentRow, tz: Tz) -> Incident {
        Incident {
            id: row.id,
            plan: row.plan.clone(),
            status: row.status.clone(),
            level: row.level.clone(),
            opened_at: millis(row.opened_at, tz),
            resolved_at: row.resolved_at.map(|at| millis(at, tz)),
        }
    }
}

/// An incident with its report (timeline, levels, approvals, mention counts).
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    /// The report as `crier incident report --format json` writes it.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `md` (the default), `html` or `json`.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentNote {
    /// Kept with the action; a rejection needs one.
    #[serde(default)]
    pub note: Option<String>,
}

/// A person's action on an incident, recorded for the service to apply.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentRecorded {
    pub incident: i64,
    pub action_id: i64,
    #[schema(format = DateTime)]
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Commitment {
    pub list_sha256: String,
    pub seed_sha256: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Substitution {
    /// The disqualified winner.
    pub out: String,
    /// The reserve who wins instead, if one was left.
    #[serde(rename = "in")]
    pub replacement: Option<String>,
    pub reason: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub by: Option<String>,
}

impl Substitution {
    pub fn of(s: &crate::contest::Substitution) -> Substitution {
        Substitution {
            out: s.out.clone(),
            replacement: s.replacement.clone(),
            reason: s.reason.clone(),
            at: s.at.clone(),
            by: s.by.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Contest {
    pub name: String,
    /// Where it stands: `scheduled`, `open`, `closed`, `drawn`…
    pub phase: String,
    #[schema(format = DateTime)]
    pub announce_at: String,
    #[schema(format = DateTime)]
    pub closes_at: String,
    #[schema(format = DateTime)]
    pub draw_at: String,
    pub seen: u64,
    pub eligible: u64,
    /// Before the close the verdicts are the ones entries would get now.
    pub provisional: bool,
    /// Entries left out, by rule.
    pub excluded: BTreeMap<String, u64>,
    pub commitment: Option<Commitment>,
    pub drawn: bool,
    pub winners: Vec<String>,
    pub reserves: Vec<String>,
    pub substitutions: Vec<Substitution>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContestEntry {
    /// `network:id`.
    pub key: String,
    pub author: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub text: String,
    pub eligible: bool,
    /// The rule that left it out.
    pub rule: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisqualifyRequest {
    /// The winning entry's key, `network:id`.
    pub entry: String,
    /// Why: kept in the proof of the draw.
    pub reason: String,
}

/// One account's verdict from `accounts check`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCheck {
    pub account: String,
    pub network: String,
    pub ok: bool,
    /// Why it is not ready, or what the check could not cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When the token stops reading people's data (comments, insights) although it stays
    /// valid (Meta's data access expiry), where the network says.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub data_access_expires_at: Option<String>,
    /// What needs doing soon: the data access ends within 14 days or has ended, and signing
    /// in again with `crier accounts connect` renews it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub id: i64,
    pub person: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
}

impl Token {
    pub fn of(token: &crate::ops::tokens::TokenInfo, tz: Tz) -> Token {
        Token {
            id: token.id,
            person: token.person.clone(),
            name: token.name.clone(),
            created_at: time(token.created_at, tz),
            expires_at: token.expires_at.map(|at| time(at, tz)),
            revoked_at: token.revoked_at.map(|at| time(at, tz)),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// The person it acts for (one of `people:`).
    pub person: String,
    /// What it is for.
    #[serde(default)]
    pub name: Option<String>,
    /// How long it is valid, e.g. `90d`; for ever if absent.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A token just made: `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: Token,
}
