//! The records the store keeps and the engine exchanges with it. Times are milliseconds
//! since the Unix epoch (UTC), which sort and compare the same in every backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::connectors::OutgoingPost;

pub type Millis = i64;
pub type RunId = i64;
pub type OutboxId = i64;

pub fn to_millis(at: DateTime<Utc>) -> Millis {
    at.timestamp_millis()
}

pub fn from_millis(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The key a network deduplicates one send by: the same (item, fire, step, account) always
/// gets the same key, so a send retried after a crash is never posted twice.
pub fn idempotency_key(key: &ItemKey, fire_at: Millis, step: usize, account: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}\u{1f}{}\u{1f}{fire_at}\u{1f}{step}\u{1f}{account}",
        key.playbook, key.item
    ));
    format!("crier-{}", hex::encode(&digest[..16]))
}

/// A schedulable item: a campaign post (`winter-sale`, `daily-deal`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey {
    pub playbook: String,
    pub item: String,
}

impl ItemKey {
    pub fn new(playbook: impl Into<String>, item: impl Into<String>) -> Self {
        ItemKey {
            playbook: playbook.into(),
            item: item.into(),
        }
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.playbook, self.item)
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

string_enum! {
    /// Where a run stands.
    RunState {
        Running => "running",
        Waiting => "waiting",
        Succeeded => "succeeded",
        Failed => "failed",
        Skipped => "skipped",
        Missed => "missed",
        Rejected => "rejected",
    }
}

string_enum! {
    /// Where a step stands.
    StepState {
        Pending => "pending",
        Waiting => "waiting",
        Done => "done",
        Failed => "failed",
        Skipped => "skipped",
    }
}

string_enum! {
    /// Where one send stands. `sending` left behind by a stopped process means "outcome
    /// unknown". `held` waits for a pause (the kill switch) to lift; `skipped` was dropped
    /// when it lifted, by its item's `missed:` policy.
    OutboxState {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Held => "held",
        Skipped => "skipped",
    }
}

/// A step as stored with its run: pinned, so editing a playbook never changes a run in
/// flight. Texts are rendered when the run is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StepSpec {
    /// Publish `text` with each account.
    Post {
        to: Vec<String>,
        text: String,
        #[serde(default)]
        media: Vec<String>,
        #[serde(default)]
        reply_to: Option<String>,
    },
    /// Tell people, through their notify accounts.
    Notify { accounts: Vec<String>, text: String },
    /// Wait this long; survives restarts.
    Wait { seconds: i64 },
    /// Wait for a person's decision, until `timeout_seconds`; then `on_timeout`
    /// (`proceed` or `abort`).
    Approve {
        by: Vec<String>,
        #[serde(default)]
        timeout_seconds: Option<i64>,
        on_timeout: String,
    },
}

impl StepSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            StepSpec::Post { .. } => "post",
            StepSpec::Notify { .. } => "notify",
            StepSpec::Wait { .. } => "wait",
            StepSpec::Approve { .. } => "approve",
        }
    }
}

/// One send to create with a run (or when a run moves on).
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub step: usize,
    pub account: String,
    pub post: OutgoingPost,
    pub due: Millis,
}

/// A run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub key: ItemKey,
    pub fire_at: Millis,
    pub revision: i64,
    pub state: RunState,
    pub reason: Option<String>,
    pub steps: Vec<StepSpec>,
    /// The step the run stands at (== steps.len() when every step has run).
    pub current_step: usize,
    /// Set when the current step waits.
    pub wake_at: Option<Millis>,
    pub outbox: Vec<NewOutbox>,
}

impl NewRun {
    /// A run of `key` fired at `fire_at`, running, with no steps yet.
    pub fn running(key: ItemKey, fire_at: Millis, revision: i64) -> NewRun {
        NewRun {
            key,
            fire_at,
            revision,
            state: RunState::Running,
            reason: None,
            steps: Vec::new(),
            current_step: 0,
            wake_at: None,
            outbox: Vec::new(),
        }
    }
}

/// What one `Store::commit` writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// When the batch is written (for `created_at`).
    pub now: Millis,
    pub runs: Vec<NewRun>,
    pub cursors: Vec<(ItemKey, Millis)>,
    /// Approval requests to open (one already open for the same fire is left alone),
    /// committed with the runs that notify their approvers.
    pub approvals: Vec<NewApproval>,
    /// Crisis plans' states and incidents, committed with the runs and pauses they imply.
    pub crisis: Vec<CrisisWrite>,
    /// Pauses to put in force (a crisis plan's `pause:` step).
    pub pauses: Vec<NewPause>,
    /// Pauses to lift (a crisis plan's `resume:` step).
    pub resumes: Vec<NewResume>,
    /// The inbound event these runs answer, recorded with them. If its (hook, key) was
    /// received before, nothing of the batch is written and `commit` returns no run.
    pub hook_event: Option<NewHookEvent>,
    /// Contests' states, committed with the runs that announce what changed in them (a
    /// disqualification and its announcement are stored together or not at all).
    pub contests: Vec<ContestWrite>,
}

/// A contest's state, as JSON the contest module owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestWrite {
    pub contest: String,
    pub state: String,
}

/// An inbound event: its hook, and the key that tells a retry from a new event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHookEvent {
    pub hook: String,
    pub key: String,
}

/// What an inbound event fired, as first committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookReceipt {
    pub hook: String,
    pub key: String,
    pub received_at: Millis,
    pub runs: Vec<RunId>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
            && self.cursors.is_empty()
            && self.approvals.is_empty()
            && self.crisis.is_empty()
            && self.pauses.is_empty()
            && self.resumes.is_empty()
            && self.hook_event.is_none()
            && self.contests.is_empty()
    }
}

/// Pauses of `scope` to lift, by `by`; only those `paused_by` set, when given (a crisis
/// plan lifts its own pauses, not a person's or another plan's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResume {
    pub scope: PauseScope,
    pub by: String,
    pub paused_by: Option<String>,
}

/// A crisis plan's state after one step of its runner, and the incidents it changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrisisWrite {
    pub plan: String,
    /// The runner's state, as JSON the crisis module owns.
    pub state: String,
    /// Incidents to insert or replace (by id).
    pub incidents: Vec<IncidentRow>,
    /// Actions applied: (action id, `None` when it took effect, or why it was refused).
    pub applied: Vec<(i64, Option<String>)>,
    /// Mentions made before this are no longer needed (beyond the longest window).
    pub forget_mentions_before: Option<Millis>,
}

/// A mention read for a crisis plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMention {
    /// `network:id`: a mention seen by several watched accounts is stored once.
    pub key: String,
    pub at: Millis,
    pub author: String,
    pub text: String,
}

/// A stored mention, numbered in the order it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMention {
    pub seq: i64,
    pub at: Millis,
    pub author: String,
    pub text: String,
}

/// An incident: its plan, status and report (JSON the crisis module owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: i64,
    pub plan: String,
    /// `open` or `resolved`.
    pub status: String,
    pub level: String,
    pub opened_at: Millis,
    pub resolved_at: Option<Millis>,
    pub report: String,
}

/// What a person did to an incident, waiting for the service or applied by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentActionRow {
    pub id: i64,
    pub incident: i64,
    /// JSON the crisis module owns.
    pub action: String,
    pub at: Millis,
    pub applied_at: Option<Millis>,
    /// Why it was refused, when it was.
    pub outcome: Option<String>,
}

/// A claimed send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: OutboxId,
    pub run_id: RunId,
    pub step: usize,
    pub account: String,
    pub post: OutgoingPost,
    /// Attempts including this one.
    pub attempts: u32,
    /// An earlier attempt's outcome is unknown: look the post up before sending again.
    pub check_first: bool,
    /// A limit placed it at this time: the sends placed after it queue behind it, so only
    /// the sends already made can delay it further.
    pub reserved: bool,
    /// When a request for it first left (stored with the row, so a lookup after a restart
    /// searches from there); `None` before its first request.
    pub first_attempt_at: Option<Millis>,
}

/// A claim on due sends: who takes them, until when the claim holds unless renewed, and
/// which sends to leave (another run's, an account that has enough in flight already).
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Unique per dispatcher: only the owner of a claim may mark or finish its sends.
    pub owner: &'a str,
    pub now: Millis,
    /// A claim whose lease passed belongs to no one: `recover_in_doubt` takes its sends back.
    pub lease_until: Millis,
    pub run: Option<RunId>,
    pub skip_accounts: &'a [String],
}

/// The sends `recover_in_doubt` took back from claims whose lease passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Their request had left: the outcome is unknown, so each is looked up first.
    pub in_doubt: usize,
    /// Claimed, but no request had left: they go out as if never claimed.
    pub unstarted: usize,
}

/// What happened to a claimed send.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxOutcome {
    Sent {
        remote_id: String,
    },
    Retry {
        at: Millis,
        error: String,
        check_first: bool,
    },
    Failed {
        error: String,
    },
    /// A pause covers it: it waits, unclaimable, until the pause lifts. Not an attempt.
    Held {
        note: String,
    },
    /// A posting-rules limit: it goes out at `at` instead. Not an attempt.
    Deferred {
        at: Millis,
        note: String,
    },
}

/// What a pause (the kill switch) holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum PauseScope {
    /// Every send.
    All,
    /// Every campaign post (a crisis plan's `pause: campaigns`; its own posts still go out).
    Campaigns,
    Account(String),
    Campaign(String),
}

impl PauseScope {
    pub fn kind(&self) -> &'static str {
        match self {
            PauseScope::All => "all",
            PauseScope::Campaigns => "campaigns",
            PauseScope::Account(_) => "account",
            PauseScope::Campaign(_) => "campaign",
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            PauseScope::Account(name) | PauseScope::Campaign(name) => Some(name),
            _ => None,
        }
    }

    pub fn from_parts(kind: &str, name: Option<String>) -> Option<PauseScope> {
        Some(match (kind, name) {
            ("all", _) => PauseScope::All,
            ("campaigns", _) => PauseScope::Campaigns,
            ("account", Some(name)) => PauseScope::Account(name),
            ("campaign", Some(name)) => PauseScope::Campaign(name),
            _ => return None,
        })
    }

    /// Whether a send of `account` for `playbook` is held; `is_campaign` tells whether the
    /// playbook is a campaign.
    pub fn covers(&self, account: &str, playbook: &str, is_campaign: bool) -> bool {
        match self {
            PauseScope::All => true,
            PauseScope::Campaigns => is_campaign,
            PauseScope::Account(name) => name == account,
            PauseScope::Campaign(name) => name == playbook,
        }
    }
}

impl std::fmt::Display for PauseScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseScope::All => f.write_str("everything"),
            PauseScope::Campaigns => f.write_str("every campaign"),
            PauseScope::Account(name) => write!(f, "account `{name}`"),
            PauseScope::Campaign(name) => write!(f, "campaign `{name}`"),
        }
    }
}

/// A pause to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPause {
    pub scope: PauseScope,
    /// Lifts by itself at this time.
    pub until: Option<Millis>,
    pub reason: String,
    pub by: String,
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseView {
    pub id: i64,
    pub scope: PauseScope,
    pub until: Option<Millis>,
    pub reason: String,
    pub by: String,
    pub created_at: Millis,
}

/// A send a pause holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSend {
    pub id: OutboxId,
    pub run_id: RunId,
    pub key: ItemKey,
    /// The run's fire time: how late the send is measured from.
    pub fire_at: Millis,
    pub account: String,
}

/// What happens to a held send when the pauses holding it lift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// It is due now (the limits still apply).
    Send,
    /// Dropped, by its item's `missed:` policy.
    Skip { reason: String },
}

/// A send that counts against the limits: sent or sending, claimed at `at`, or due at a
/// future `at` (a limit or a retry placed it there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSlot {
    pub id: OutboxId,
    pub account: String,
    pub playbook: String,
    pub at: Millis,
}

/// A step whose wake time has come.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingStep {
    pub run_id: RunId,
    pub key: ItemKey,
    pub fire_at: Millis,
    pub step: usize,
    pub steps: Vec<StepSpec>,
}

/// How a run moves on past its current step.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAdvance {
    pub run_id: RunId,
    /// The step being closed, and how it ended.
    pub step: usize,
    pub outcome: StepState,
    pub reason: Option<String>,
    /// The step the run now stands at (== number of steps when none is left).
    pub current_step: usize,
    /// States for the steps passed on the way (done or skipped), by index.
    pub passed: Vec<(usize, StepState)>,
    /// Set when the new current step waits.
    pub wake_at: Option<Millis>,
    pub outbox: Vec<NewOutbox>,
    /// A final state that does not wait for sends (aborted, failed).
    pub finish: Option<(RunState, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub playbook: Option<String>,
    pub since: Option<Millis>,
    pub limit: Option<usize>,
}

/// One page of runs, newest first (by fire time, then id): the runs before `before` that
/// every given filter selects, at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsPageFilter {
    pub playbook: Option<String>,
    /// Only runs fired at or after this time.
    pub since: Option<Millis>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs with a send to this account…
    pub account: Option<String>,
    /// …and (or) a send in this state (both on the same send when both are given).
    pub send_state: Option<OutboxState>,
    /// The (fire time, id) of the last run of the page before; the first page if `None`.
    pub before: Option<(Millis, RunId)>,
    pub limit: usize,
}

impl RunsPageFilter {
    /// `run` is one the filter selects, the position aside.
    pub fn selects(&self, run: &RunView) -> bool {
        self.playbook.as_ref().is_none_or(|p| run.playbook == *p)
            && self.since.is_none_or(|since| run.fire_at >= since)
            && self.state.is_none_or(|state| run.state == state)
            && (self.account.is_none() && self.send_state.is_none()
                || run.outbox.iter().any(|send| {
                    self.account.as_ref().is_none_or(|a| send.account == *a)
                        && self.send_state.is_none_or(|s| send.state == s)
                }))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub index: usize,
    pub kind: String,
    pub state: StepState,
    pub wake_at: Option<Millis>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxView {
    pub step: usize,
    pub account: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: Millis,
    pub remote_id: Option<String>,
    pub error: Option<String>,
    /// Why it waits or was dropped (a pause, a limit), with the rule named.
    pub note: Option<String>,
    pub text: String,
    /// When its state last changed: for a sent one, when the network took it.
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub id: RunId,
    pub playbook: String,
    pub item: String,
    pub fire_at: Millis,
    pub revision: i64,
    pub state: RunState,
    pub reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub steps: Vec<StepView>,
    pub outbox: Vec<OutboxView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusView {
    pub runs: Vec<(String, i64)>,
    pub outbox: Vec<(String, i64)>,
    /// Runs running or waiting, oldest first.
    pub in_flight: Vec<RunView>,
}

/// A run as the calendar marks a past post: which post, when it fired, how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMark {
    pub playbook: String,
    pub item: String,
    pub fire_at: Millis,
    pub state: RunState,
}

/// One line of a flat timeline: a run, and one of its sends if it has any.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub fire_at: Millis,
    pub playbook: String,
    pub item: String,
    pub state: RunState,
    pub reason: Option<String>,
    pub send: Option<TimelineSend>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSend {
    pub account: String,
    pub state: OutboxState,
    pub text: String,
    pub error: Option<String>,
    /// The network's id of the post this one replies to.
    pub reply_to: Option<String>,
    /// The network's id of this post, once sent.
    pub remote_id: Option<String>,
    /// When it was last updated: for a sent post, when it went out.
    pub updated_at: Millis,
    /// Why it waited or was dropped (a pause, a limit).
    pub note: Option<String>,
}

string_enum! {
    /// Where a post's approval stands.
    ApprovalState {
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
    }
}

string_enum! {
    /// One person's decision.
    Decision {
        Approve => "approve",
        Reject => "reject",
    }
}

/// A request for approval of one fire of a post, opened (and its approvers notified, by
/// the run committed with it) ahead of the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub key: ItemKey,
    pub fire_at: Millis,
    pub approvers: Vec<String>,
    /// `any` or `all`.
    pub need: String,
    pub deadline: Millis,
    /// `hold`, `skip` or `send`.
    pub on_timeout: String,
    /// The post's text as it would go out, for the approvers to read.
    pub text: String,
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionView {
    pub by: String,
    pub decision: Decision,
    pub note: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalView {
    pub id: i64,
    pub playbook: String,
    pub item: String,
    pub fire_at: Millis,
    pub approvers: Vec<String>,
    pub need: String,
    pub deadline: Millis,
    pub on_timeout: String,
    pub text: String,
    pub accounts: Vec<String>,
    pub state: ApprovalState,
    pub created_at: Millis,
    pub decisions: Vec<DecisionView>,
}

impl ApprovalView {
    /// The state its decisions lead to: one rejection rejects; one approval approves under
    /// `any`, every approver's under `all`.
    pub fn state_from_decisions(&self) -> ApprovalState {
        if self
            .decisions
            .iter()
            .any(|d| d.decision == Decision::Reject)
        {
            return ApprovalState::Rejected;
        }
        let approved = |person: &String| {
            self.decisions
                .iter()
                .any(|d| &d.by == person && d.decision == Decision::Approve)
        };
        let done = if self.need == "all" {
            self.approvers.iter().all(approved)
        } else {
            self.approvers.iter().any(approved)
        };
        if done {
            ApprovalState::Approved
        } else {
            ApprovalState::Pending
        }
    }

    /// `approved by olena, taras` / `rejected by olena: off-brand`.
    pub fn summary(&self) -> String {
        let deciders = |decision: Decision| {
            self.decisions
                .iter()
                .filter(|d| d.decision == decision)
                .map(|d| match &d.note {
                    Some(note) => format!("{} ({note})", d.by),
                    None => d.by.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.state {
            ApprovalState::Approved => format!("approved by {}", deciders(Decision::Approve)),
            ApprovalState::Rejected => format!("rejected by {}", deciders(Decision::Reject)),
            ApprovalState::Pending => "waiting for approval".to_string(),
        }
    }
}

/// A person's action as the store recorded it, whichever process took it: what a running
/// server tells its event stream about actions taken elsewhere (`crier approve`, `pause`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    /// Grows with every action stored.
    pub id: i64,
    pub at: Millis,
    pub action: RecordedAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedAction {
    /// A decision on a post's approval; `state` is where the approval stands now.
    Decided {
        approval: i64,
        playbook: String,
        item: String,
        by: String,
        decision: String,
        state: String,
    },
    Paused {
        pause: i64,
        scope: PauseScope,
        by: String,
    },
    /// A pause lifted (by nobody when its `until` passed).
    Resumed {
        pause: i64,
        scope: PauseScope,
        by: Option<String>,
    },
    /// An action on an incident, as its JSON (`crisis::runner::Action`).
    Incident { incident: i64, action: String },
    /// A post fired by hand; `reason` says by whom.
    Triggered {
        run: RunId,
        playbook: String,
        item: String,
        reason: String,
    },
    /// A contest winner disqualified: `out` left out, `replacement` the reserve that wins
    /// instead (none when no reserve was left), `by` who decided.
    Disqualified {
        contest: String,
        out: String,
        replacement: Option<String>,
        by: Option<String>,
    },
}
