//! `crier rehearse`: the very same engine on a virtual clock, with SQLite in memory (each
//! virtual tick's writes in one transaction) and recording connectors. Nothing is sent and
//! no file is written; the same input gives byte-identical output. Lines stream out in time
//! order as the virtual clock passes them, and the runs they came from are forgotten, so
//! memory follows a day of posts, not the window.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::clock::{Clock, VirtualClock};
use super::core::{Engine, EngineParts};
use super::dispatch::{Dispatcher, RetryPolicy};
use super::dispatch_rehearsal::dispatch_due;
use super::rehearse_crises::CrisisFeed;
use crate::connectors::recording::Recording;
use crate::connectors::registry::Connectors;
use crate::connectors::resume::LocalHandles;
use crate::crisis::IncidentReport;
use crate::playbook::plan::Plan;
use crate::store::{
    Millis, OutboxState, RunState, SqliteStore, Store, StoreError, ViewStore, from_millis,
    to_millis,
};
use std::collections::HashMap;

/// One line of a rehearsal events file (JSON Lines), as PLAYBOOKS.md shows them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehearsalEvent {
    #[serde(deserialize_with = "event_time")]
    pub at: DateTime<chrono::FixedOffset>,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub incident: Option<String>,
    /// An approval of a post: its campaign and item (the earliest of its fires waiting).
    #[serde(default)]
    pub playbook: Option<String>,
    #[serde(default)]
    pub item: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// What the network says of the author (contest entries' `entry.author`).
    #[serde(default)]
    pub followers: Option<u64>,
    #[serde(default)]
    pub age_days: Option<i64>,
    #[serde(default)]
    pub follows_us: Option<bool>,
    /// The network's id of a mention or reply; a hook event's idempotency key.
    #[serde(default)]
    pub id: Option<String>,
    /// A `hook` event: the hook it goes to, and the JSON body it carries.
    #[serde(default)]
    pub hook: Option<String>,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Mention,
    Reply,
    Approval,
    Hook,
}

/// What an `approval` event may decide: a post's or an incident's approval, or (for an
/// incident) an acknowledgement or a resolve.
const DECISIONS: [&str; 4] = ["approve", "reject", "ack", "resolve"];

#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    #[error("cannot read `{path}`: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}:{line}: {reason}")]
    Event {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("event {number}: {reason}")]
    Invalid { number: usize, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Connectors(String),
    /// The output could not be written.
    #[error("cannot write the output: {0}")]
    Write(String),
}

/// The most `age_days` an event may say an author's account has (about 300 years).
pub const MAX_AGE_DAYS: i64 = 110_000;

impl RehearsalEvent {
    /// When the author's account was created, from `age_days` before the event; refused
    /// when negative or too large to be a date.
    pub fn author_created(&self) -> Result<Option<DateTime<Utc>>, String> {
        let Some(days) = self.age_days else {
            return Ok(None);
        };
        if !(0..=MAX_AGE_DAYS).contains(&days) {
            return Err(format!(
                "`age_days` is {days}: it must be between 0 and {MAX_AGE_DAYS}"
            ));
        }
        TimeDelta::try_days(days)
            .and_then(|age| self.at.with_timezone(&Utc).checked_sub_signed(age))
            .map(Some)
            .ok_or_else(|| format!("`age_days` {days} before `at` is not a date"))
    }
}

/// An event's `at`: RFC 3339 read by chrono's strict parser first, which is several times
/// faster than the relaxed one behind `FromStr` (a drill reads a time per mention), then by
/// the relaxed one (a space for the `T`, and the rest it takes), whose error is the one
/// reported.
fn event_time<'de, D>(deserializer: D) -> Result<DateTime<chrono::FixedOffset>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(at);
    }
    text.parse().map_err(serde::de::Error::custom)
}

/// Reads an events file; every bad line is an error naming its line.
pub fn read_events(path: &Path) -> Result<Vec<RehearsalEvent>, RehearsalError> {
    let text = std::fs::read_to_string(path).map_err(|e| RehearsalError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |reason: String| RehearsalError::Event {
            path: path.display().to_string(),
            line: index + 1,
            reason,
        };
        let event: RehearsalEvent = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
        if event.kind == EventKind::Hook && (event.hook.is_none() || event.body.is_none()) {
            return Err(error(
                "a hook event needs `hook` (its name) and `body` (the JSON it carries)".into(),
            ));
        }
        event.author_created().map_err(error)?;
        if event.kind == EventKind::Approval {
            let decision = event.decision.as_deref().unwrap_or("");
            if !DECISIONS.contains(&decision) {
                return Err(error(format!(
                    "an approval's `decision` is one of {}, not `{decision}`",
                    DECISIONS.join(", ")
                )));
            }
        }
        events.push(event);
    }
    Ok(events)
}

/// One thing the rehearsal saw or did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RehearsalLine {
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Tz>,
    /// `post`, `skipped`, `missed`, `failed`, or the type of an input event.
    pub kind: String,
    pub playbook: Option<String>,
    pub item: Option<String>,
    pub account: Option<String>,
    pub text: Option<String>,
    /// The post (`playbook/item`) this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The recipient of a direct message (a contest's winner), as the network addresses them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_to: Option<String>,
    pub reason: Option<String>,
    /// The posting rule set that delayed, skipped or rejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What a rehearsal saw and did, and the incidents its crisis plans opened.
#[derive(Debug, Clone)]
pub struct Rehearsal {
    /// In time order.
    pub lines: Vec<RehearsalLine>,
    /// Every incident, oldest first, as `crier incident report` would show it.
    pub incidents: Vec<IncidentReport>,
}

/// Runs the plan from `from` to `until` (exclusive) and returns what happened, in order.
pub async fn rehearse(
    plan: Arc<Plan>,
    events: &[RehearsalEvent],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<RehearsalLine>, RehearsalError> {
    Ok(rehearsal(plan, events, from, until).await?.lines)
}

/// `rehearse`, with the incidents of the crisis plans.
pub async fn rehearsal(
    plan: Arc<Plan>,
    events: &[RehearsalEvent],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Rehearsal, RehearsalError> {
    let mut lines = Vec::new();
    let incidents = rehearse_into(plan, events, from, until, &mut |line| {
        lines.push(line);
        Ok(())
    })
    .await?;
    Ok(Rehearsal { lines, incidents })
}

/// Where a rehearsal's lines go, one at a time, in time order.
pub type LineSink<'s> = dyn FnMut(RehearsalLine) -> Result<(), RehearsalError> + Send + 's;

/// Runs the plan from `from` to `until` (exclusive), handing `out` each line in time order
/// as soon as nothing still to come can sort before it, and returns the incidents. Runs
/// are read from the store a stretch at a time and, once their lines are out, forgotten:
/// memory follows a day's posts, not the window's. (A plan with contests or crisis plans
/// has lines known only at the end, the verdicts and the incidents' timelines: its lines
/// go out then.)
pub async fn rehearse_into(
    plan: Arc<Plan>,
    events: &[RehearsalEvent],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: &mut LineSink<'_>,
) -> Result<Vec<IncidentReport>, RehearsalError> {
    let store = if forgets_runs(&plan) {
        SqliteStore::in_memory_forgetting()?
    } else {
        SqliteStore::in_memory()?
    };
    rehearse_on(Arc::new(store), plan, events, from, until, out).await
}

/// Whether a rehearsal of `plan` forgets the runs whose lines are out: not with contests
/// or crisis plans, whose lines go out at the end, nor with limits, which count past sends.
fn forgets_runs(plan: &Plan) -> bool {
    plan.contests.is_empty() && plan.crises.is_empty() && !crate::rules::limits::Limiter::any(plan)
}

/// Whether some post replies to an item's earlier post: forgetting then keeps each item's
/// latest sent post, which the reply reads.
fn replies_to_earlier_posts(plan: &Plan) -> bool {
    plan.campaigns
        .iter()
        .flat_map(|campaign| &campaign.posts)
        .any(|post| post.reply_to.is_some())
}

/// `rehearse_into` on `sqlite`, a new store in memory.
async fn rehearse_on(
    sqlite: Arc<SqliteStore>,
    plan: Arc<Plan>,
    events: &[RehearsalEvent],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: &mut LineSink<'_>,
) -> Result<Vec<IncidentReport>, RehearsalError> {
    let start = from - TimeDelta::milliseconds(1);
    let clock = Arc::new(VirtualClock::new(start));
    let store: Arc<dyn Store> = sqlite.clone();
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let connectors = Arc::new(connectors);
    let mut engine = Engine::new(
        plan.clone(),
        "rehearsal",
        EngineParts::new(store.clone()),
        start,
    )?;
    engine.start(start)?;
    let dispatcher = Dispatcher::new(store.clone(), connectors, RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    // What connectors keep between a send's requests, in memory like the rest.
    let handles = LocalHandles::default();
    let until_ms = to_millis(until);
    let limits = crate::rules::limits::Limiter::any(&plan);
    // Fires are taken a day at a time, and never past a step waking or a send due again:
    // with recording connectors nothing else can happen in between. Limits count sends by
    // the time they go out, so with limits every fire is sent at its own time.
    let stride: i64 = if limits { 0 } else { 24 * 3600 * 1000 };
    let mut lines = Lines::new(&plan, events);
    // Contest entries: every reply or mention to a contest's account, seen at its time.
    for contest in &plan.contests {
        let network = plan
            .accounts
            .get(&contest.account)
            .map_or("console", |a| a.network.name());
        let entries = events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(e.kind, EventKind::Reply | EventKind::Mention)
                    && e.account.as_deref() == Some(contest.account.as_str())
            })
            .map(|(index, e)| entry_from_event(network, index, e))
            .collect::<Result<_, _>>()?;
        crate::contest::lifecycle::add_entries(store.as_ref(), contest, entries, from)?;
    }
    // Decisions on posts, applied at their times.
    // Hook events too: like a decision, each happens at its time and fires what it fires.
    let mut decisions: Vec<&RehearsalEvent> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Approval && e.playbook.is_some() || e.kind == EventKind::Hook
        })
        .collect();
    let hook_posts = super::hooks::hook_items(&plan);
    decisions.sort_by_key(|e| e.at);
    let mut decisions = decisions.into_iter().peekable();
    let mut contests_done_until = start;
    let mut crises = CrisisFeed::new(&plan, events, from);
    let mut done = false;
    while !done {
        // Each virtual tick's writes commit together: one transaction, not one per call.
        sqlite.begin_group()?;
        'tick: {
            engine.open_approvals(clock.now())?;
            let next_decision = decisions
                .peek()
                .map(|e| to_millis(e.at.with_timezone(&Utc)))
                .filter(|at| *at < until_ms);
            let next_fire = engine.next_fire().map(to_millis);
            let due_others = [store.next_outbox_due()?, store.next_wake()?]
                .into_iter()
                .flatten()
                .min();
            let next_crisis = crises.next_at().filter(|at| *at < until_ms);
            if let Some(at) = engine
                .next_contest_milestone(contests_done_until)
                .map(to_millis)
                .filter(|at| *at < until_ms)
                .filter(|at| {
                    [next_fire, due_others, next_decision, next_crisis]
                        .into_iter()
                        .flatten()
                        .all(|other| *at <= other)
                })
            {
                clock.advance_to(from_millis(at).max(clock.now()));
                engine.tick_contests(clock.now(), crate::contest::lifecycle::Seeds::Rehearsal)?;
                contests_done_until = from_millis(at);
                dispatch_due(&dispatcher, &sqlite, &handles, clock.now()).await?;
                break 'tick;
            }
            // Crisis plans tick as under `crier run`: before the fires due at the same time,
            // so a pause holds them.
            if let Some(at) = next_crisis.filter(|at| {
                [next_fire, due_others, next_decision]
                    .into_iter()
                    .flatten()
                    .all(|other| *at <= other)
            }) {
                clock.advance_to(from_millis(at).max(clock.now()));
                for refusal in crises.tick(&plan, &mut engine, store.as_ref(), clock.now())? {
                    lines.push(refused_line(refusal.event, refusal.reason, plan.timezone));
                }
                // A resume lifts the pause: what it held goes out now, and is listed then.
                let held = store.held_sends()?;
                if !held.is_empty() && engine.release_held(clock.now())? > 0 {
                    lines.released.extend(held.into_iter().map(|send| {
                        (send.key.playbook, send.key.item, send.account, send.fire_at)
                    }));
                }
                dispatch_due(&dispatcher, &sqlite, &handles, clock.now()).await?;
                break 'tick;
            }
            let next_ask = engine
                .next_approval_ask()
                .map(to_millis)
                .filter(|at| *at < until_ms);
            if let Some(at) = next_ask.filter(|at| {
                [next_fire, due_others, next_decision]
                    .into_iter()
                    .flatten()
                    .all(|other| *at <= other)
            }) {
                clock.advance_to(from_millis(at).max(clock.now()));
                engine.open_approvals(clock.now())?;
                dispatch_due(&dispatcher, &sqlite, &handles, clock.now()).await?;
                break 'tick;
            }
            if let Some(at) = next_decision.filter(|at| {
                [next_fire, due_others]
                    .into_iter()
                    .flatten()
                    .all(|other| *at < other)
            }) {
                let event = decisions.next().expect("peeked");
                clock.advance_to(from_millis(at).max(clock.now()));
                let decided = match event.kind {
                    EventKind::Hook => hook_event(&mut engine, &hook_posts, event, clock.now()),
                    _ => decide_event(store.as_ref(), event, clock.now(), plan.timezone),
                };
                if let Err(reason) = decided {
                    lines.push(refused_line(event, reason, plan.timezone));
                }
                engine.resume_waiting(clock.now())?;
                dispatch_due(&dispatcher, &sqlite, &handles, clock.now()).await?;
                break 'tick;
            }
            let next_fire = engine.next_fire().map(to_millis);
            let others = [store.next_outbox_due()?, store.next_wake()?]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = [next_fire, others]
                .into_iter()
                .flatten()
                .min()
                .filter(|n| *n < until_ms)
            else {
                done = true;
                break 'tick;
            };
            let horizon = (next + stride)
                .min(others.unwrap_or(i64::MAX))
                .min(next_crisis.map_or(i64::MAX, |at| at - 1))
                .min(next_decision.map_or(i64::MAX, |at| at - 1))
                .min(next_ask.map_or(i64::MAX, |at| at - 1))
                .min(until_ms - 1)
                .max(next);
            let reached = engine.fire_until(from_millis(horizon))?;
            clock.advance_to(reached);
            engine.resume_waiting(clock.now())?;
            engine.release_held(clock.now())?;
            dispatch_due(&dispatcher, &sqlite, &handles, clock.now()).await?;
        }
        sqlite.commit_group()?;
        if !done {
            lines.advance(&sqlite, &recording, to_millis(clock.now()), out)?;
        }
    }
    let incidents = incidents(store.as_ref())?;
    lines.read(&sqlite, &recording, Millis::MAX)?;
    for report in &incidents {
        for line in incident_lines(report, plan.timezone) {
            lines.push(line);
        }
    }
    let scripts = crate::script::ScriptEngine::new();
    for contest in &plan.contests {
        let standings = crate::contest::standings(store.as_ref(), contest, &scripts)?;
        for line in contest_lines(&contest.name, &standings, plan.timezone) {
            lines.push(line);
        }
    }
    lines.emit_before(None, out)?;
    Ok(incidents)
}

/// A contest's standings as lines: each entry's verdict at its time (`entry`, the rule that
/// left it out named), then the winners and the reserves in draw order at the draw.
fn contest_lines(
    contest: &str,
    standings: &crate::contest::Standings,
    tz: Tz,
) -> Vec<RehearsalLine> {
    let line = |at: DateTime<Utc>, kind: &str, key: &str, text: String| RehearsalLine {
        at: at.with_timezone(&tz),
        kind: kind.into(),
        playbook: Some(contest.to_string()),
        item: Some(key.to_string()),
        account: None,
        text: Some(text),
        reply_to: None,
        direct_to: None,
        reason: None,
        rule: None,
    };
    let mut lines: Vec<RehearsalLine> = standings
        .entries
        .iter()
        .map(|(entry, verdict)| {
            let text = match &verdict.rule {
                None => format!("{}: eligible", entry.author),
                Some(rule) => format!("{}: excluded by {rule}", entry.author),
            };
            RehearsalLine {
                reason: verdict.reason.clone(),
                rule: verdict.rule.clone(),
                ..line(entry.at, "entry", &verdict.key, text)
            }
        })
        .collect();
    if let Some(drawn_at) = standings.drawn_at {
        let author = |key: &str| {
            standings
                .entry(key)
                .map_or_else(|| key.to_string(), |e| e.author.clone())
        };
        for (kind, keys) in [
            ("winner", &standings.winners),
            ("reserve", &standings.reserves),
        ] {
            for (index, key) in keys.iter().enumerate() {
                lines.push(RehearsalLine {
                    reason: Some(format!("{kind} {} of {}", index + 1, keys.len())),
                    ..line(drawn_at, kind, key, author(key))
                });
            }
        }
    }
    lines
}

/// A decision from the events file that decided nothing, and why.
fn refused_line(event: &RehearsalEvent, reason: String, tz: Tz) -> RehearsalLine {
    RehearsalLine {
        at: event.at.with_timezone(&tz),
        kind: "refused".into(),
        playbook: event.playbook.clone().or_else(|| event.incident.clone()),
        item: event.item.clone(),
        account: event.by.clone(),
        text: event.decision.clone(),
        reply_to: None,
        direct_to: None,
        reason: Some(reason),
        rule: None,
    }
}

/// The stored incidents, oldest first.
fn incidents(store: &dyn Store) -> Result<Vec<IncidentReport>, StoreError> {
    let mut reports = store
        .incidents()?
        .into_iter()
        .map(|row| {
            serde_json::from_str(&row.report).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<IncidentReport>, _>>()?;
    reports.reverse();
    Ok(reports)
}

/// What an incident's timeline says beyond its sends (which the store lists): its signals and
/// levels, pauses and resumes, acknowledgements, decisions and its resolve.
fn incident_lines(report: &IncidentReport, tz: Tz) -> Vec<RehearsalLine> {
    let crier = format!("crisis:{}", report.plan);
    report
        .timeline
        .iter()
        .filter(|entry| !matches!(entry.kind.as_str(), "notify" | "post"))
        .map(|entry| {
            let (kind, text) = match entry.kind.as_str() {
                "step" => match entry.detail.split_once(' ') {
                    Some((step @ ("pause" | "resume"), targets)) => (step, targets.to_string()),
                    _ => ("step", entry.detail.clone()),
                },
                // `approval` is the events file's own kind.
                "approval" => ("decision", entry.detail.clone()),
                kind => (kind, entry.detail.clone()),
            };
            RehearsalLine {
                at: from_millis(entry.at).with_timezone(&tz),
                kind: kind.into(),
                playbook: Some(report.plan.clone()),
                item: Some(format!("incident-{}", report.id)),
                account: None,
                text: Some(text),
                reply_to: None,
                direct_to: None,
                reason: (entry.actor != crier).then(|| format!("by {}", entry.actor)),
                rule: None,
            }
        })
        .collect()
}

/// A reply or mention of a rehearsal's events file as a contest entry.
fn entry_from_event(
    network: &str,
    index: usize,
    event: &RehearsalEvent,
) -> Result<crate::contest::Entry, RehearsalError> {
    let at = event.at.with_timezone(&Utc);
    let account_created = event
        .author_created()
        .map_err(|reason| RehearsalError::Invalid {
            number: index + 1,
            reason,
        })?;
    let author = event
        .author
        .clone()
        .unwrap_or_else(|| format!("author-{index}"));
    Ok(crate::contest::Entry {
        network: network.to_string(),
        id: format!("event-{}", index + 1),
        author_id: author.clone(),
        author,
        followers: event.followers,
        account_created,
        follows_us: event.follows_us,
        bot: None,
        text: event.text.clone().unwrap_or_default(),
        at,
        in_reply_to: event.in_reply_to.clone(),
        edited_after_close: None,
        deleted_before_close: false,
        checked_at_close: false,
    })
}

/// A rehearsal's `hook` event, fired as `crier run` fires one it receives (the signature
/// aside); a second event with the same `id` fires nothing, as a retry would not.
fn hook_event(
    engine: &mut Engine,
    posts: &std::collections::HashMap<String, Vec<super::timeline::ItemRef>>,
    event: &RehearsalEvent,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let hook = event.hook.as_deref().unwrap_or_default();
    let body = event.body.clone().unwrap_or_default();
    let key = match &event.id {
        Some(id) => id.clone(),
        // Bounded like a received event's key, whatever the body's size.
        None => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(body.to_string().as_bytes());
            format!(
                "rehearsal-{}-{}",
                to_millis(event.at.with_timezone(&Utc)),
                &hex::encode(digest)[..16]
            )
        }
    };
    let hook_posts = posts.get(hook).map(Vec::as_slice).unwrap_or_default();
    match engine.fire_hook(hook, hook_posts, &body, &key, now) {
        Ok(fired) if fired.replay => Err(format!(
            "event `{key}` was received before; nothing fired again"
        )),
        Ok(_) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

/// A rehearsal's `approval` event on a post, decided as `crier approve`/`reject` would.
fn decide_event(
    store: &dyn Store,
    event: &RehearsalEvent,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(), String> {
    let reference = format!(
        "{}/{}",
        event.playbook.as_deref().unwrap_or_default(),
        event.item.as_deref().unwrap_or_default()
    );
    let decision = match event.decision.as_deref() {
        Some("approve") => crate::store::Decision::Approve,
        Some("reject") => crate::store::Decision::Reject,
        other => {
            return Err(format!(
                "`decision` must be `approve` or `reject`, not {other:?}"
            ));
        }
    };
    let by = event.by.as_deref().ok_or("an approval event needs `by`")?;
    let approval = super::approvals::find(store, &reference, now).map_err(|e| e.to_string())?;
    super::approvals::decide(
        store,
        &approval,
        by,
        decision,
        event.note.as_deref(),
        now,
        tz,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// A line waiting to go out, ordered as the output is: time, then what kind of line, then
/// names, then the order it was made in (events in the file's order, runs by fire time).
struct Pending(RehearsalLine, u64);

/// A line's place in the output: its time, kind, playbook, item, account, then `made`.
type LineOrder<'a> = (
    &'a DateTime<Tz>,
    &'a String,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    u64,
);

impl Pending {
    fn key(&self) -> LineOrder<'_> {
        Pending::key_of(&self.0, self.1)
    }

    fn key_of(line: &RehearsalLine, made: u64) -> LineOrder<'_> {
        (
            &line.at,
            &line.kind,
            &line.playbook,
            &line.item,
            &line.account,
            made,
        )
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// How often, in virtual time, a rehearsal reads the runs that finished and writes lines.
const READ_EVERY: i64 = 3600 * 1000;

/// A rehearsal's lines on their way out: the events file's lines and the refusals, and the
/// store's runs read a stretch of fire times at a time, merged in time order. Everything
/// before the watermark (the clock, or the earliest run still going if earlier) is final
/// and goes out; the runs read are forgotten by the store.
struct Lines {
    tz: Tz,
    /// Whether lines go out before the end (not with contests or crisis plans, whose
    /// verdicts and incident timelines are only known at the end).
    early: bool,
    /// Whether runs whose lines are out are forgotten (`forgets_runs`).
    forget: bool,
    /// Whether forgetting keeps each item's latest sent post, for a reply to read.
    keep_latest_sent: bool,
    /// Runs fired before this were read, and those read ahead of it (finished already).
    read_until: Millis,
    read_ahead: std::collections::HashSet<(String, String, Millis)>,
    next_read: Millis,
    /// The events' lines not written yet, in the output's order, merged with `pending` as
    /// they go out (an events file may have 100,000 lines: they never go through the
    /// heap); `next_event` is the number of the first.
    events: std::collections::VecDeque<RehearsalLine>,
    next_event: usize,
    pending: std::collections::BinaryHeap<std::cmp::Reverse<Pending>>,
    made: u64,
    /// Which post each network id is (the latest of each item and account), to say what a
    /// reply replies to.
    names: HashMap<String, String>,
    latest: HashMap<(String, String, String), String>,
    /// Who each direct message went to, by its network id.
    recipients: HashMap<String, String>,
    /// Sends a pause held, once it lifted: (playbook, item, account, fire time).
    released: std::collections::HashSet<(String, String, String, i64)>,
    plan_crises: Vec<String>,
}

impl Lines {
    fn new(plan: &Plan, events: &[RehearsalEvent]) -> Lines {
        let tz = plan.timezone;
        let mut event_lines: Vec<(usize, RehearsalLine)> = events
            .iter()
            .map(|event| event_line(event, tz))
            .enumerate()
            .collect();
        // In the output's order (`Pending`'s): events keep their order in the file among
        // lines that sort alike.
        event_lines.sort_by(|(a_index, a), (b_index, b)| {
            Pending::key_of(a, *a_index as u64).cmp(&Pending::key_of(b, *b_index as u64))
        });
        let early = plan.contests.is_empty() && plan.crises.is_empty();
        Lines {
            tz,
            early,
            forget: forgets_runs(plan),
            keep_latest_sent: replies_to_earlier_posts(plan),
            read_until: Millis::MIN,
            read_ahead: Default::default(),
            next_read: Millis::MIN,
            events: event_lines.into_iter().map(|(_, line)| line).collect(),
            next_event: 0,
            pending: Default::default(),
            made: 0,
            names: HashMap::new(),
            latest: HashMap::new(),
            recipients: HashMap::new(),
            released: Default::default(),
            plan_crises: plan.crises.iter().map(|c| c.name.clone()).collect(),
        }
    }

    fn push(&mut self, line: RehearsalLine) {
        self.made += 1;
        self.pending
            .push(std::cmp::Reverse(Pending(line, self.made + EVENT_ORDER)));
    }

    /// After a virtual tick at `now`: reads what finished and writes what is final.
    fn advance(
        &mut self,
        store: &SqliteStore,
        recording: &Recording,
        now: Millis,
        out: &mut LineSink<'_>,
    ) -> Result<(), RehearsalError> {
        if !self.early || now < self.next_read {
            return Ok(());
        }
        self.next_read = now.saturating_add(READ_EVERY);
        let watermark = store.unfinished_from()?.map_or(now, |at| at.min(now));
        self.read(store, recording, watermark)?;
        let watermark = from_millis(watermark).with_timezone(&self.tz);
        self.emit_before(Some(watermark), out)?;
        if self.forget {
            store.forget_finished_runs(
                to_millis(watermark.with_timezone(&Utc)),
                self.keep_latest_sent,
            )?;
        }
        Ok(())
    }

    /// Reads the runs fired before `until` not read yet, and the posts recorded since.
    fn read(
        &mut self,
        store: &SqliteStore,
        recording: &Recording,
        until: Millis,
    ) -> Result<(), RehearsalError> {
        if until <= self.read_until {
            return Ok(());
        }
        let recorded = recording.lock().unwrap_or_else(|e| e.into_inner()).take();
        for record in recorded {
            if let Some(recipient) = record.post.direct_to {
                self.recipients
                    .insert(record.delivered.remote_id, recipient);
            }
        }
        let mut rows = store.timeline_between(self.read_until, until)?;
        let ahead = std::mem::take(&mut self.read_ahead);
        rows.retain(|row| !ahead.contains(&run_of(row)));
        self.read_ahead = ahead.into_iter().filter(|run| run.2 >= until).collect();
        // Runs finished ahead of their fire time (an approval request, sent before the post
        // it asks about, is listed when it went out): read now, skipped when reached.
        if until < Millis::MAX {
            let finished_ahead = store
                .timeline_between(until, Millis::MAX)?
                .into_iter()
                .filter(|row| !matches!(row.state, RunState::Running | RunState::Waiting))
                .filter(|row| !self.read_ahead.contains(&run_of(row)))
                .collect::<Vec<_>>();
            self.read_ahead.extend(finished_ahead.iter().map(run_of));
            rows.extend(finished_ahead);
        }
        self.read_until = until;
        // Names first: a run's later step may reply to its own earlier post.
        let mut replaced = Vec::new();
        for row in &rows {
            let Some(send) = &row.send else { continue };
            let Some(remote_id) = &send.remote_id else {
                continue;
            };
            let key = (row.playbook.clone(), row.item.clone(), send.account.clone());
            if let Some(old) = self.latest.insert(key, remote_id.clone())
                && old != *remote_id
            {
                replaced.push(old);
            }
            self.names
                .insert(remote_id.clone(), format!("{}/{}", row.playbook, row.item));
        }
        for row in rows {
            let line = self.timeline_line(row);
            self.push(line);
        }
        // Later posts reply to an item's latest post: the earlier names are not needed.
        for old in replaced {
            self.names.remove(&old);
        }
        Ok(())
    }

    /// Writes the lines before `watermark` (all of them, for `None`), in order.
    fn emit_before(
        &mut self,
        watermark: Option<DateTime<Tz>>,
        out: &mut LineSink<'_>,
    ) -> Result<(), RehearsalError> {
        let before = |line: &RehearsalLine| watermark.is_none_or(|w| line.at < w);
        loop {
            let event = self.events.front().filter(|line| before(line));
            let made = self
                .pending
                .peek()
                .map(|std::cmp::Reverse(first)| first)
                .filter(|first| before(&first.0));
            let event_first = match (event, made) {
                (None, None) => return Ok(()),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(event), Some(made)) => {
                    Pending::key_of(event, self.next_event as u64) < made.key()
                }
            };
            let line = if event_first {
                self.next_event += 1;
                self.events.pop_front().expect("looked at")
            } else {
                let std::cmp::Reverse(Pending(line, _)) = self.pending.pop().expect("peeked");
                line
            };
            out(line)?;
        }
    }

    /// A run (with one of its sends) as a line.
    fn timeline_line(&self, row: crate::store::TimelineRow) -> RehearsalLine {
        let tz = self.tz;
        let was_held = row.send.as_ref().is_some_and(|send| {
            self.released.contains(&(
                row.playbook.clone(),
                row.item.clone(),
                send.account.clone(),
                row.fire_at,
            ))
        });
        let line = RehearsalLine {
            at: from_millis(row.fire_at).with_timezone(&tz),
            kind: row.state.as_str().into(),
            playbook: Some(row.playbook),
            item: Some(row.item),
            account: None,
            text: None,
            reply_to: None,
            direct_to: None,
            rule: row.reason.as_deref().and_then(rule_named),
            reason: row.reason,
        };
        let notice = line.reason.as_deref().is_some_and(super::crisis::notifies)
            && self
                .plan_crises
                .iter()
                .any(|c| Some(c) == line.playbook.as_ref());
        match row.send {
            None => line,
            Some(send) if send.state == OutboxState::Sent && was_held => RehearsalLine {
                kind: "post".into(),
                at: from_millis(send.updated_at).with_timezone(&tz),
                account: Some(send.account),
                text: Some(send.text),
                reason: Some(format!(
                    "held by a pause from {}, sent when it lifted",
                    line.at.format("%H:%M")
                )),
                ..line
            },
            Some(send) => RehearsalLine {
                kind: match send.state {
                    OutboxState::Sent if notice => "notify",
                    OutboxState::Sent => "post",
                    OutboxState::Failed => "failed",
                    OutboxState::Skipped => "skipped",
                    OutboxState::Held => "held",
                    _ => "pending",
                }
                .into(),
                // A post a limit delayed, and an approval request (sent ahead of the post it
                // asks about), are listed when they went out.
                at: match (send.state, &send.note) {
                    (OutboxState::Sent, Some(_)) => from_millis(send.updated_at).with_timezone(&tz),
                    (OutboxState::Sent, None)
                        if line
                            .item
                            .as_deref()
                            .is_some_and(|i| i.ends_with("/approval")) =>
                    {
                        from_millis(send.updated_at).with_timezone(&tz)
                    }
                    _ => line.at,
                },
                reply_to: send.reply_to.as_deref().map(|remote_id| {
                    self.names
                        .get(remote_id)
                        .cloned()
                        .unwrap_or_else(|| remote_id.to_owned())
                }),
                direct_to: send
                    .remote_id
                    .as_ref()
                    .and_then(|id| self.recipients.get(id))
                    .cloned(),
                account: Some(send.account),
                text: Some(send.text),
                rule: send
                    .note
                    .as_deref()
                    .and_then(rule_named)
                    .or(line.rule.clone()),
                reason: send.error.or(send.note).or(line.reason.clone()),
                ..line
            },
        }
    }
}

/// A run's name in the timeline: (playbook, item, fire time).
fn run_of(row: &crate::store::TimelineRow) -> (String, String, Millis) {
    (row.playbook.clone(), row.item.clone(), row.fire_at)
}

/// Lines made during the rehearsal come after the events' lines that sort alike.
const EVENT_ORDER: u64 = 1 << 40;

/// An events file's line as a rehearsal line.
fn event_line(event: &RehearsalEvent, tz: Tz) -> RehearsalLine {
    let kind = match event.kind {
        EventKind::Mention => "mention",
        EventKind::Reply => "reply",
        EventKind::Approval => "approval",
        EventKind::Hook => "hook",
    };
    RehearsalLine {
        at: event.at.with_timezone(&tz),
        kind: kind.into(),
        playbook: event
            .incident
            .clone()
            .or_else(|| event.playbook.clone())
            .or_else(|| event.hook.clone()),
        item: event.in_reply_to.clone().or_else(|| event.item.clone()),
        account: event.account.clone().or_else(|| event.by.clone()),
        text: event
            .text
            .clone()
            .or_else(|| event.decision.clone())
            .or_else(|| event.body.as_ref().map(|b| b.to_string())),
        reply_to: None,
        direct_to: None,
        reason: event.author.clone(),
        rule: None,
    }
}

/// The rule set a reason names: `delayed by rules `pace` (…)` → `pace`.
fn rule_named(reason: &str) -> Option<String> {
    let start = reason.find("by rules `")? + "by rules `".len();
    let end = reason[start..].find('`')?;
    Some(reason[start..start + end].to_string())
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Tz>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}

/// The text form: one line per entry, then the summary.
pub fn render_text(lines: &[RehearsalLine]) -> String {
    let mut tally = Tally::default();
    let mut out = String::new();
    for line in lines {
        tally.count(line);
        write_text_line(&mut out, line).expect("a String takes every write");
    }
    out.push_str(&tally.summary());
    out
}

/// One entry of the text form, ending in a newline, written to `out` piece by piece (a
/// year's rehearsal writes hundreds of thousands of them, a drill one per mention).
pub fn write_text_line(out: &mut impl std::fmt::Write, line: &RehearsalLine) -> std::fmt::Result {
    use chrono::{Datelike as _, Offset as _, Timelike as _};
    // `%Y-%m-%d %H:%M %:z`, without parsing the format, the local time made once, and its
    // digits put in place rather than formatted one by one.
    let at = line.at.naive_local();
    let offset = line.at.offset().fix().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs() / 60;
    match u32::try_from(at.year()).ok().filter(|year| *year <= 9999) {
        Some(year) => {
            let mut stamp = *b"0000-00-00 00:00 +00:00  ";
            put_digits(&mut stamp[0..4], year);
            put_digits(&mut stamp[5..7], at.month());
            put_digits(&mut stamp[8..10], at.day());
            put_digits(&mut stamp[11..13], at.hour());
            put_digits(&mut stamp[14..16], at.minute());
            stamp[17] = sign as u8;
            put_digits(&mut stamp[18..20], offset / 60);
            put_digits(&mut stamp[21..23], offset % 60);
            out.write_str(std::str::from_utf8(&stamp).expect("digits and ASCII"))?;
        }
        None => write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02} {sign}{:02}:{:02}  ",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            offset / 60,
            offset % 60,
        )?,
    }
    // `{:<8} `: the kind, padded to 8 characters, and a space.
    out.write_str(&line.kind)?;
    for _ in line.kind.chars().count()..8 {
        out.write_char(' ')?;
    }
    out.write_char(' ')?;
    match (&line.playbook, &line.item) {
        (Some(playbook), Some(item)) => {
            out.write_str(playbook)?;
            out.write_char('/')?;
            out.write_str(item)?;
        }
        (Some(playbook), None) => out.write_str(playbook)?,
        (None, Some(item)) => out.write_str(item)?,
        (None, None) => {}
    }
    if let Some(account) = &line.account {
        out.write_str(" → ")?;
        out.write_str(account)?;
    }
    if let Some(to) = &line.direct_to {
        out.write_str(" (DM to ")?;
        out.write_str(to)?;
        out.write_char(')')?;
    }
    if let Some(text) = &line.text {
        out.write_str(": ")?;
        let mut lines = text.split('\n');
        out.write_str(lines.next().unwrap_or_default())?;
        for rest in lines {
            out.write_str(" ⏎ ")?;
            out.write_str(rest)?;
        }
    }
    if let Some(target) = &line.reply_to {
        out.write_str(" (reply to ")?;
        out.write_str(target)?;
        out.write_char(')')?;
    }
    if let Some(reason) = &line.reason {
        match line.kind.as_str() {
            "mention" | "reply" => out.write_str(" (from ")?,
            _ => out.write_str(" (")?,
        }
        out.write_str(reason)?;
        out.write_char(')')?;
    }
    out.write_char('\n')
}

/// `n`'s last decimal digits into `digits`, zero-padded on the left.
fn put_digits(digits: &mut [u8], mut n: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// What the text form's summary counts, kept as the lines go by.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    posts: usize,
    held: usize,
    skipped: usize,
    rejected: usize,
    missed: usize,
    failed: usize,
    notified: usize,
    inputs: usize,
}

impl Tally {
    pub fn count(&mut self, line: &RehearsalLine) {
        match line.kind.as_str() {
            "post" => self.posts += 1,
            "held" => self.held += 1,
            "skipped" => self.skipped += 1,
            "rejected" => self.rejected += 1,
            "missed" => self.missed += 1,
            "failed" => self.failed += 1,
            "notify" => self.notified += 1,
            "mention" | "reply" | "approval" | "hook" => self.inputs += 1,
            _ => {}
        }
    }

    /// The summary that ends the text form (with a blank line before it).
    pub fn summary(&self) -> String {
        let held = match self.held {
            0 => String::new(),
            held => format!(", {held} held by a pause"),
        };
        let notified = match self.notified {
            0 => String::new(),
            notified => format!("{notified} notification(s) to the team; "),
        };
        format!(
            "\n{} post(s) would go out{held}, {} skipped, {} rejected, {} missed, {} failed; {notified}{} input event(s). Nothing was sent.\n",
            self.posts, self.skipped, self.rejected, self.missed, self.failed, self.inputs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ScheduleStore;
    use chrono::TimeZone;

    #[test]
    fn an_events_time_reads_as_chrono_reads_it_strict_or_relaxed() {
        let at = |text: &str| {
            serde_json::from_str::<RehearsalEvent>(&format!(
                r#"{{"at": "{text}", "type": "mention", "text": "hi"}}"#
            ))
            .map(|event| event.at)
            .map_err(|error| error.to_string())
        };
        for text in [
            "2027-03-03T09:00:00+02:00",
            "2027-03-03T09:00:00.125Z",
            "2027-03-03 09:00:00+02:00",
            "2027-03-03t09:00:00-05:30",
            "2027-03-03T09:00:00 +02:00",
        ] {
            let relaxed: Result<DateTime<chrono::FixedOffset>, _> = text.parse();
            assert_eq!(
                at(text),
                relaxed.map_err(|e| e.to_string()),
                "{text}: read as the relaxed parser reads it"
            );
            assert!(at(text).is_ok(), "{text}");
        }
        for text in ["2027-03-03", "tomorrow", "2027-03-03T25:00:00Z"] {
            let error = at(text).unwrap_err();
            let relaxed = text.parse::<DateTime<chrono::FixedOffset>>().unwrap_err();
            assert!(error.contains(&relaxed.to_string()), "{text}: {error}");
        }
    }

    /// A post at 09:00 every day.
    fn daily() -> (tempfile::TempDir, Arc<Plan>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("crier.yaml"),
            "timezone: UTC\naccounts:\n  demo: { network: console }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("daily.yaml"),
            "kind: campaign\nname: daily\nposts:\n  - { id: news, cron: \"0 9 * * *\", to: demo, text: \"news\" }\n",
        )
        .unwrap();
        let validated = crate::playbook::load::load_and_validate(dir.path()).unwrap();
        assert!(
            validated.diagnostics.is_empty(),
            "{:?}",
            validated.diagnostics
        );
        let plan = Arc::new(validated.plan.unwrap());
        (dir, plan)
    }

    /// The text form's time is `%Y-%m-%d %H:%M %:z` in the plan's zone, west of UTC and
    /// off the hour too, and a text's line breaks are shown as ⏎.
    #[test]
    fn a_text_line_writes_its_time_with_the_zones_offset() {
        let line = |zone: Tz| RehearsalLine {
            at: Utc
                .with_ymd_and_hms(2027, 1, 5, 14, 7, 0)
                .unwrap()
                .with_timezone(&zone),
            kind: "post".into(),
            playbook: Some("news".into()),
            item: Some("a".into()),
            account: Some("brand".into()),
            text: Some("one\ntwo".into()),
            reply_to: Some("news/b".into()),
            direct_to: None,
            reason: Some("held".into()),
            rule: None,
        };
        for zone in [
            chrono_tz::America::St_Johns,
            chrono_tz::Asia::Kolkata,
            chrono_tz::UTC,
        ] {
            let line = line(zone);
            let mut text = String::new();
            write_text_line(&mut text, &line).unwrap();
            let at = line.at.format("%Y-%m-%d %H:%M %:z");
            assert_eq!(
                text,
                format!("{at}  post     news/a → brand: one ⏎ two (reply to news/b) (held)\n")
            );
        }
    }

    /// Each part of a text line, written as it always was: a year of four digits or not,
    /// kinds shorter or longer than their column, an item without its playbook and the
    /// reverse, a direct message, a mention's author.
    #[test]
    fn a_text_line_writes_each_of_its_parts() {
        let line = |at: DateTime<Tz>, kind: &str| RehearsalLine {
            at,
            kind: kind.into(),
            playbook: None,
            item: None,
            account: None,
            text: None,
            reply_to: None,
            direct_to: None,
            reason: None,
            rule: None,
        };
        let kyiv = Utc
            .with_ymd_and_hms(2027, 3, 3, 9, 5, 0)
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Kyiv);
        let utc = |year| {
            Utc.with_ymd_and_hms(year, 3, 3, 9, 5, 0)
                .unwrap()
                .with_timezone(&chrono_tz::UTC)
        };
        let cases = [
            (
                RehearsalLine {
                    account: Some("brand".into()),
                    text: Some("down".into()),
                    reason: Some("@ann".into()),
                    ..line(kyiv, "mention")
                },
                "2027-03-03 11:05 +02:00  mention   → brand: down (from @ann)\n",
            ),
            (
                RehearsalLine {
                    playbook: Some("outage".into()),
                    item: Some("incident-1/1".into()),
                    account: Some("slack".into()),
                    direct_to: Some("pr_lead".into()),
                    text: Some("a\nb".into()),
                    reason: Some("incident 1: notify pr_lead".into()),
                    ..line(kyiv, "notify")
                },
                "2027-03-03 11:05 +02:00  notify   outage/incident-1/1 → slack (DM to pr_lead): a ⏎ b (incident 1: notify pr_lead)\n",
            ),
            (
                RehearsalLine {
                    playbook: Some("outage".into()),
                    text: Some("approve".into()),
                    reason: Some("pr_lead".into()),
                    ..line(kyiv, "approval")
                },
                "2027-03-03 11:05 +02:00  approval outage: approve (pr_lead)\n",
            ),
            (
                RehearsalLine {
                    item: Some("x".into()),
                    ..line(kyiv, "unreachable")
                },
                "2027-03-03 11:05 +02:00  unreachable x\n",
            ),
            (
                line(utc(12027), "post"),
                "12027-03-03 09:05 +00:00  post     \n",
            ),
            (
                line(utc(999), "post"),
                "0999-03-03 09:05 +00:00  post     \n",
            ),
            (
                line(utc(-44), "post"),
                "-044-03-03 09:05 +00:00  post     \n",
            ),
        ];
        for (line, expected) in cases {
            let mut text = String::new();
            write_text_line(&mut text, &line).unwrap();
            assert_eq!(text, expected);
        }
    }

    /// Each line goes out while the rehearsal is at its day, not at the end, and the store
    /// never holds more than a few days of runs; the lines are those of the collected form.
    #[tokio::test]
    async fn lines_stream_out_as_the_clock_passes_them_and_runs_are_forgotten() {
        let (_dir, plan) = daily();
        let from = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let until = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let watched = store.clone();
        let mut streamed = Vec::new();
        let mut most_runs = 0;
        let mut sink = |line: RehearsalLine| {
            // Where the engine stood when the line came out.
            let (cursors, _) = watched.latest_fires(1).unwrap();
            let fired_until = from_millis(cursors[0].1);
            assert!(
                fired_until - line.at.with_timezone(&Utc) <= TimeDelta::days(2),
                "{} came out when the engine had fired until {fired_until}",
                line.at
            );
            most_runs = most_runs.max(watched.timeline().unwrap().len());
            streamed.push(line);
            Ok(())
        };
        rehearse_on(store.clone(), plan.clone(), &[], from, until, &mut sink)
            .await
            .unwrap();
        assert_eq!(streamed.len(), 365);
        assert!(most_runs < 10, "the store held {most_runs} runs at once");
        let collected = rehearse(plan, &[], from, until).await.unwrap();
        assert_eq!(streamed, collected);
        assert!(streamed.windows(2).all(|pair| pair[0].at < pair[1].at));
    }
}
