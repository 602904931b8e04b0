//! `crier rehearse`: the very same engine on a virtual clock, with an in-memory store
//! (`MemoryStore`, which behaves exactly like SQLite without its cost per fire) and
//! recording connectors. Nothing is sent and no file is written; the same input gives
//! byte-identical output.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::clock::{Clock, VirtualClock};
use super::core::{Engine, EngineParts};
use super::dispatch::{Dispatcher, RetryPolicy};
use super::rehearse_crises::CrisisFeed;
use crate::connectors::registry::Connectors;
use crate::crisis::IncidentReport;
use crate::playbook::plan::Plan;
use crate::store::{MemoryStore, OutboxState, Store, StoreError, from_millis, to_millis};

/// One line of a rehearsal events file (JSON Lines), as PLAYBOOKS.md shows them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RehearsalEvent {
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
    let start = from - TimeDelta::milliseconds(1);
    let clock = Arc::new(VirtualClock::new(start));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
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
    let until_ms = to_millis(until);
    // Fires are taken a day at a time, and never past a step waking or a send due again:
    // with recording connectors nothing else can happen in between. Limits count sends by
    // the time they go out, so with limits every fire is sent at its own time.
    let stride: i64 = if crate::rules::limits::Limiter::any(&plan) {
        0
    } else {
        24 * 3600 * 1000
    };
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
    let mut refused = Vec::new();
    let mut contests_done_until = start;
    let mut crises = CrisisFeed::new(&plan, events, from);
    // Sends a pause held, once it lifted: (playbook, item, account, fire time).
    let mut released = std::collections::HashSet::new();
    loop {
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
            dispatcher.dispatch_due(|| clock.now(), None).await?;
            continue;
        }
        // Crisis plans tick as under `crier run`: before the fires due at the same time, so
        // a pause holds them.
        if let Some(at) = next_crisis.filter(|at| {
            [next_fire, due_others, next_decision]
                .into_iter()
                .flatten()
                .all(|other| *at <= other)
        }) {
            clock.advance_to(from_millis(at).max(clock.now()));
            for refusal in crises.tick(&plan, &mut engine, store.as_ref(), clock.now())? {
                refused.push(refused_line(refusal.event, refusal.reason, plan.timezone));
            }
            // A resume lifts the pause: what it held goes out now, and is listed then.
            let held = store.held_sends()?;
            if !held.is_empty() && engine.release_held(clock.now())? > 0 {
                released
                    .extend(held.into_iter().map(|send| {
                        (send.key.playbook, send.key.item, send.account, send.fire_at)
                    }));
            }
            dispatcher.dispatch_due(|| clock.now(), None).await?;
            continue;
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
            dispatcher.dispatch_due(|| clock.now(), None).await?;
            continue;
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
                refused.push(refused_line(event, reason, plan.timezone));
            }
            engine.resume_waiting(clock.now())?;
            dispatcher.dispatch_due(|| clock.now(), None).await?;
            continue;
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
            break;
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
        dispatcher.dispatch_due(|| clock.now(), None).await?;
    }
    // Who each direct message went to, by the id the recording gave it.
    let recipients: std::collections::HashMap<String, String> = recording
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(|record| {
            let recipient = record.post.direct_to.clone()?;
            Some((record.delivered.remote_id.clone(), recipient))
        })
        .collect();
    let mut lines = lines(&plan, store.as_ref(), events, &recipients, &released)?;
    let incidents = incidents(store.as_ref())?;
    lines.extend(
        incidents
            .iter()
            .flat_map(|r| incident_lines(r, plan.timezone)),
    );
    let scripts = crate::script::ScriptEngine::new();
    for contest in &plan.contests {
        let standings = crate::contest::standings(store.as_ref(), contest, &scripts)?;
        lines.extend(contest_lines(&contest.name, &standings, plan.timezone));
    }
    lines.extend(refused);
    sort_lines(&mut lines);
    Ok(Rehearsal { lines, incidents })
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
    let approval = super::approvals::find(store, &reference).map_err(|e| e.to_string())?;
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

/// The events and the store's timeline as lines; `recipients` names the recipient of each
/// direct message by its remote id; `released` the sends a pause held for a while.
fn lines(
    plan: &Plan,
    store: &dyn Store,
    events: &[RehearsalEvent],
    recipients: &std::collections::HashMap<String, String>,
    released: &std::collections::HashSet<(String, String, String, i64)>,
) -> Result<Vec<RehearsalLine>, StoreError> {
    let tz = plan.timezone;
    let mut lines = Vec::new();
    for event in events {
        let kind = match event.kind {
            EventKind::Mention => "mention",
            EventKind::Reply => "reply",
            EventKind::Approval => "approval",
            EventKind::Hook => "hook",
        };
        lines.push(RehearsalLine {
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
        });
    }
    let timeline = store.timeline()?;
    // Which post each network id is, to say what a reply replies to.
    let posts_by_remote_id: std::collections::HashMap<&str, String> = timeline
        .iter()
        .filter_map(|row| {
            let remote_id = row.send.as_ref()?.remote_id.as_deref()?;
            Some((remote_id, format!("{}/{}", row.playbook, row.item)))
        })
        .collect();
    let replied_to = |send: &crate::store::TimelineSend| {
        let remote_id = send.reply_to.as_deref()?;
        Some(
            posts_by_remote_id
                .get(remote_id)
                .cloned()
                .unwrap_or_else(|| remote_id.to_owned()),
        )
    };
    for row in timeline.iter().cloned() {
        let was_held = row.send.as_ref().is_some_and(|send| {
            released.contains(&(
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
            && plan
                .crises
                .iter()
                .any(|c| Some(&c.name) == line.playbook.as_ref());
        lines.push(match row.send {
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
                // A post a limit delayed is listed when it went out, with the rule named.
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
                reply_to: replied_to(&send),
                direct_to: send
                    .remote_id
                    .as_ref()
                    .and_then(|id| recipients.get(id))
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
        });
    }
    sort_lines(&mut lines);
    Ok(lines)
}

/// The rule set a reason names: `delayed by rules `pace` (…)` → `pace`.
fn rule_named(reason: &str) -> Option<String> {
    let start = reason.find("by rules `")? + "by rules `".len();
    let end = reason[start..].find('`')?;
    Some(reason[start..start + end].to_string())
}

/// Stable order: time, then what kind of line, then names.
fn sort_lines(lines: &mut [RehearsalLine]) {
    lines.sort_by(|a, b| {
        (a.at, &a.kind, &a.playbook, &a.item, &a.account).cmp(&(
            b.at,
            &b.kind,
            &b.playbook,
            &b.item,
            &b.account,
        ))
    });
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Tz>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}

/// The text form: one line per entry.
pub fn render_text(lines: &[RehearsalLine]) -> String {
    let mut out = String::new();
    for line in lines {
        let at = line.at.format("%Y-%m-%d %H:%M %:z");
        let what = match (&line.playbook, &line.item) {
            (Some(playbook), Some(item)) => format!("{playbook}/{item}"),
            (Some(playbook), None) => playbook.clone(),
            (None, Some(item)) => item.clone(),
            (None, None) => String::new(),
        };
        let account = line
            .account
            .as_deref()
            .map(|a| format!(" → {a}"))
            .unwrap_or_default();
        let recipient = line
            .direct_to
            .as_deref()
            .map(|to| format!(" (DM to {to})"))
            .unwrap_or_default();
        let text = line
            .text
            .as_deref()
            .map(|t| format!(": {}", t.replace('\n', " ⏎ ")))
            .unwrap_or_default();
        let reply = line
            .reply_to
            .as_deref()
            .map(|target| format!(" (reply to {target})"))
            .unwrap_or_default();
        let reason = match line.kind.as_str() {
            "mention" | "reply" => line
                .reason
                .as_deref()
                .map(|a| format!(" (from {a})"))
                .unwrap_or_default(),
            _ => line
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
        };
        out.push_str(&format!(
            "{at}  {:<8} {what}{account}{recipient}{text}{reply}{reason}\n",
            line.kind
        ));
    }
    out.push_str(&summary(lines));
    out
}

fn summary(lines: &[RehearsalLine]) -> String {
    let count = |kind: &str| lines.iter().filter(|l| l.kind == kind).count();
    let held = match count("held") {
        0 => String::new(),
        held => format!(", {held} held by a pause"),
    };
    let notified = match count("notify") {
        0 => String::new(),
        notified => format!("{notified} notification(s) to the team; "),
    };
    format!(
        "\n{} post(s) would go out{held}, {} skipped, {} rejected, {} missed, {} failed; {notified}{} input event(s). Nothing was sent.\n",
        count("post"),
        count("skipped"),
        count("rejected"),
        count("missed"),
        count("failed"),
        lines
            .iter()
            .filter(|l| matches!(l.kind.as_str(), "mention" | "reply" | "approval" | "hook"))
            .count()
    )
}
