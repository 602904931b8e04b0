//! A contest's life, moved on by `tick` whenever the engine runs: announce at its time,
//! take entries until they close, then freeze the eligible list and commit to it and to a
//! secret seed, draw at `draw.at` (revealing the seed), and tell the winners. Its state is
//! saved before anything it implies is sent, and every post is a run in the engine's outbox
//! (exactly once, within the limits and pauses), so a restart at any moment loses nothing
//! and changes no seed, list or result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::draw::{self, Proof, Substitution};
use super::entries::{Entry, Verdict, judge};
use crate::connectors::OutgoingPost;
use crate::playbook::plan::{ContestPlan, Plan};
use crate::script::ScriptEngine;
use crate::store::{
    Batch, ContestWrite, ItemKey, NewOutbox, NewRun, RunState, StepSpec, Store, StoreError,
    StoreResult, idempotency_key, to_millis,
};
use crate::text::Renderer;

/// Where the seed comes from: the operating system (a real contest) or the contest's name
/// (a rehearsal, so that the same rehearsal draws the same winners; it says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeds {
    Random,
    Rehearsal,
}

/// What a contest has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestState {
    pub announced: bool,
    #[serde(default)]
    pub committed: Option<Committed>,
    /// Secret until the draw; kept so a restart keeps the commitment true.
    #[serde(default)]
    pub seed: Option<String>,
    #[serde(default)]
    pub drawn_at: Option<String>,
    #[serde(default)]
    pub winners: Vec<String>,
    #[serde(default)]
    pub reserves: Vec<String>,
    #[serde(default)]
    pub substitutions: Vec<Substitution>,
    /// The commitment post and the winners' messages are in the outbox.
    #[serde(default)]
    pub commitment_posted: bool,
    #[serde(default)]
    pub winners_told: bool,
}

/// The eligible list frozen when entries closed, and the commitment to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub frozen_at: String,
    pub entries: Vec<String>,
    pub list_sha256: String,
    pub seed_sha256: String,
    /// Every entry's verdict at close, in list order.
    pub verdicts: Vec<Verdict>,
    /// How the seed was made.
    pub seeds: String,
}

impl ContestState {
    pub fn phase(&self) -> &'static str {
        match (self.announced, &self.committed, &self.drawn_at) {
            (_, _, Some(_)) => "drawn",
            (_, Some(_), None) => "committed",
            (true, None, None) => "collecting",
            (false, None, None) => "scheduled",
        }
    }
}

/// Everything a tick needs.
pub struct Parts<'a> {
    pub plan: &'a Plan,
    pub store: &'a dyn Store,
    pub scripts: &'a ScriptEngine,
    /// Under `crier run`, on the render thread and cut short by a stop: nothing a tick
    /// was building is committed, and it is done again after the next start.
    pub texts: Renderer<'a>,
    pub revision: i64,
    pub seeds: Seeds,
    /// How long after the close the list is frozen (the last entries made before it are
    /// read by then); never later than the draw.
    pub freeze_after: chrono::TimeDelta,
}

pub fn load_state(store: &dyn Store, contest: &str) -> StoreResult<ContestState> {
    match store.contest_state(contest)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(ContestState::default()),
    }
}

fn save_state(
    store: &dyn Store,
    contest: &str,
    state: &ContestState,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let json = serde_json::to_string(state).expect("contest states serialise");
    store.put_contest_state(contest, &json, to_millis(now))
}

/// Every entry of a contest.
pub fn load_entries(store: &dyn Store, contest: &str) -> StoreResult<Vec<Entry>> {
    store
        .contest_entries(contest)?
        .into_iter()
        .map(|(_, json)| {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Records entries seen at `now`: a new one is stored once; one seen again with another
/// text takes it before entries close, and keeps it aside as `edited_after_close` after.
/// Returns how many were new.
pub fn add_entries(
    store: &dyn Store,
    contest: &ContestPlan,
    seen: Vec<Entry>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    // Only the entries seen again are read: a page is compared with what it touches.
    let keys: Vec<String> = seen.iter().map(Entry::key).collect();
    let existing: std::collections::HashMap<String, Entry> = store
        .contest_entries_of(&contest.name, &keys)?
        .into_iter()
        .map(|(key, json)| {
            serde_json::from_str(&json)
                .map(|entry| (key, entry))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect::<StoreResult<_>>()?;
    let closed = now > contest.closes.with_timezone(&Utc);
    let mut writes = Vec::new();
    let mut new = 0;
    for entry in seen {
        let key = entry.key();
        let stored = match existing.get(&key) {
            None => {
                new += 1;
                entry
            }
            Some(old) if old.text == entry.text => continue,
            Some(old) if closed => {
                if old.edited_after_close.as_deref() == Some(entry.text.as_str()) {
                    continue;
                }
                Entry {
                    edited_after_close: Some(entry.text),
                    ..old.clone()
                }
            }
            Some(old) => Entry {
                text: entry.text,
                ..old.clone()
            },
        };
        writes.push((
            key,
            serde_json::to_string(&stored).expect("entries serialise"),
        ));
    }
    writes.sort();
    store.put_contest_entries(&contest.name, &writes, to_millis(now))?;
    Ok(new)
}

/// How long past its usual time the freeze waits for entries to be read again at the close.
const RECHECK_LIMIT: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Whether the list may be frozen: under `crier run`, once every entry made before the close
/// was read again (`collect::recheck_at_close`), or `RECHECK_LIMIT` after the usual time,
/// and never later than the draw. A rehearsal reads nothing again.
fn rechecked(
    parts: &Parts,
    contest: &ContestPlan,
    now: DateTime<Utc>,
    freeze_at: DateTime<Utc>,
) -> StoreResult<bool> {
    if parts.seeds == Seeds::Rehearsal
        || now >= freeze_at + RECHECK_LIMIT
        || now >= contest.draw_at.with_timezone(&Utc)
    {
        return Ok(true);
    }
    Ok(unchecked_entries(parts.store, contest)?.is_empty())
}

/// The entries made by the close that were not read again at the close yet (read without
/// the others: the freeze asks every second until there are none).
pub fn unchecked_entries(store: &dyn Store, contest: &ContestPlan) -> StoreResult<Vec<Entry>> {
    let closes = contest.closes.with_timezone(&Utc);
    let mut entries = Vec::new();
    for (_, json) in store.unchecked_entries(&contest.name, to_millis(closes))? {
        let entry: Entry =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if entry.at <= closes && !entry.checked_at_close {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Moves the contest on to where `now` says it should be.
pub fn tick(parts: &Parts, contest: &ContestPlan, now: DateTime<Utc>) -> StoreResult<()> {
    let mut state = load_state(parts.store, &contest.name)?;
    if !state.announced && now >= contest.announce_at.with_timezone(&Utc) {
        commit_runs(parts, vec![announcement(parts, contest, now)?], now)?;
        state.announced = true;
        save_state(parts.store, &contest.name, &state, now)?;
    }
    let freeze_at = (contest.closes.with_timezone(&Utc) + parts.freeze_after)
        .min(contest.draw_at.with_timezone(&Utc));
    if state.committed.is_none() && now >= freeze_at && rechecked(parts, contest, now, freeze_at)? {
        let entries = load_entries(parts.store, &contest.name)?;
        let verdicts: Vec<Verdict> = judge(
            contest,
            parts.scripts,
            &entries,
            &announcement_ids(parts, contest)?,
        )
        .into_iter()
        .map(|(_, verdict)| verdict)
        .collect();
        let frozen: Vec<String> = verdicts
            .iter()
            .filter(|v| v.eligible)
            .map(|v| v.key.clone())
            .collect();
        let seed = match parts.seeds {
            Seeds::Random => draw::new_seed(),
            Seeds::Rehearsal => {
                draw::sha256_hex(format!("crier rehearsal seed\n{}", contest.name).as_bytes())
            }
        };
        state.committed = Some(Committed {
            frozen_at: contest.closes.to_rfc3339(),
            list_sha256: draw::list_hash(&frozen),
            seed_sha256: draw::sha256_hex(seed.as_bytes()),
            entries: frozen,
            verdicts,
            seeds: match parts.seeds {
                Seeds::Random => "random (operating system)".into(),
                Seeds::Rehearsal => "rehearsal: derived from the contest's name, not secret".into(),
            },
        });
        state.seed = Some(seed);
        // The seed is stored before the commitment can be seen anywhere.
        save_state(parts.store, &contest.name, &state, now)?;
    }
    if let Some(committed) = state.committed.clone()
        && contest.post_commitment
        && !state.commitment_posted
    {
        let mut text = format!(
            "Entries to {} are closed: {} eligible. Commitment ({}): list SHA-256 {}, seed SHA-256 {}. The seed is revealed at the draw.",
            contest.name,
            committed.entries.len(),
            draw::ALGORITHM,
            committed.list_sha256,
            committed.seed_sha256
        );
        if parts.seeds == Seeds::Rehearsal {
            text.push_str(" (A rehearsal: the seed is derived from the contest's name.)");
        }
        let reply_to = announcement_ids(parts, contest)?.into_iter().next();
        let run = post_run(
            parts,
            contest,
            "commitment",
            contest.closes.with_timezone(&Utc),
            text,
            reply_to,
            now,
        )?;
        commit_runs(parts, vec![run], now)?;
        state.commitment_posted = true;
        save_state(parts.store, &contest.name, &state, now)?;
    }
    if state.drawn_at.is_none()
        && now >= contest.draw_at.with_timezone(&Utc)
        && let (Some(committed), Some(seed)) = (&state.committed, &state.seed)
    {
        let (winners, reserves) = draw::draw(
            seed,
            &committed.entries,
            contest.winners as usize,
            contest.reserves as usize,
        );
        state.winners = winners;
        state.reserves = reserves;
        state.drawn_at = Some(contest.draw_at.to_rfc3339());
        save_state(parts.store, &contest.name, &state, now)?;
    }
    if state.drawn_at.is_some() && !state.winners_told {
        // The result is stored before anyone is told; after a restart here, the same
        // runs (same keys) are committed again, which changes nothing.
        let runs = winner_runs(
            parts,
            contest,
            &state,
            &state.winners.clone(),
            "winners",
            now,
        )?;
        commit_runs(parts, runs, now)?;
        state.winners_told = true;
        save_state(parts.store, &contest.name, &state, now)?;
    }
    Ok(())
}

/// Why a winner could not be disqualified: nothing was changed either way.
#[derive(Debug, thiserror::Error)]
pub enum DisqualifyError {
    /// The contest's state does not allow it (not drawn yet, not a winner).
    #[error("{0}")]
    Refused(String),
    /// The store failed, or a stop cut the announcement's text short
    /// (`StoreError::Interrupted`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces a disqualified winner with the next reserve, records it, and announces it
/// (and messages the new winner) through the outbox: the new state and the announcing runs
/// are committed in one transaction, once every text is rendered, so a failure or a stop
/// on the way leaves the contest as it was.
pub fn disqualify(
    parts: &Parts,
    contest: &ContestPlan,
    key: &str,
    reason: &str,
    by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Substitution, DisqualifyError> {
    let mut state = load_state(parts.store, &contest.name)?;
    if state.drawn_at.is_none() {
        return Err(DisqualifyError::Refused(format!(
            "{} has not been drawn yet",
            contest.name
        )));
    }
    let Some(position) = state.winners.iter().position(|w| w == key) else {
        return Err(DisqualifyError::Refused(format!(
            "`{key}` is not a winner of {}; the winners are {}",
            contest.name,
            state.winners.join(", ")
        )));
    };
    let replacement = (!state.reserves.is_empty()).then(|| state.reserves.remove(0));
    match &replacement {
        Some(reserve) => state.winners[position] = reserve.clone(),
        None => {
            state.winners.remove(position);
        }
    }
    let substitution = Substitution {
        out: key.to_string(),
        replacement: replacement.clone(),
        reason: reason.to_string(),
        at: now.to_rfc3339(),
        by: by.map(str::to_string),
    };
    state.substitutions.push(substitution.clone());
    let item = format!("substitution-{}", state.substitutions.len());
    let runs = winner_runs(
        parts,
        contest,
        &state,
        &replacement.into_iter().collect::<Vec<_>>(),
        &item,
        now,
    )?;
    parts.store.commit(&Batch {
        now: to_millis(now),
        runs,
        contests: vec![ContestWrite {
            contest: contest.name.clone(),
            state: serde_json::to_string(&state).expect("contest states serialise"),
        }],
        ..Batch::default()
    })?;
    Ok(substitution)
}

/// The proof as it stands: before the draw it has no seed.
pub fn proof(store: &dyn Store, contest: &ContestPlan) -> Result<Proof, String> {
    let state = load_state(store, &contest.name).map_err(|e| e.to_string())?;
    let Some(committed) = state.committed else {
        return Err(format!(
            "entries to {} have not closed yet: there is nothing to prove",
            contest.name
        ));
    };
    Ok(Proof {
        algorithm: draw::ALGORITHM.into(),
        contest: contest.name.clone(),
        frozen_at: committed.frozen_at,
        entries: committed.entries,
        list_sha256: committed.list_sha256,
        seed_sha256: committed.seed_sha256,
        seed: state.drawn_at.as_ref().and(state.seed),
        winners_wanted: contest.winners as usize,
        reserves_wanted: contest.reserves as usize,
        winners: state.winners,
        reserves: state.reserves,
        substitutions: state.substitutions,
    })
}

/// What an entry replying to the announcement names: its network id, once it went out, or
/// its item name (`announce`, as rehearsal events write it). A store error is not "no
/// announcement": replies would lose their target.
fn announcement_ids(parts: &Parts, contest: &ContestPlan) -> StoreResult<Vec<String>> {
    reply_targets(parts.store, contest)
}

/// What a reply to `contest`'s announcement may name, as the close judges entries: the
/// verdicts shown while entries are open use the same.
pub fn reply_targets(store: &dyn Store, contest: &ContestPlan) -> StoreResult<Vec<String>> {
    let key = ItemKey::new(&contest.name, "announce");
    let mut ids: Vec<String> = store
        .latest_remote_id(&key, &contest.account)?
        .into_iter()
        .collect();
    ids.push("announce".into());
    Ok(ids)
}

fn context(contest: &ContestPlan, winners: &[Entry]) -> serde_json::Value {
    let mut context = contest.vars.clone();
    context.insert("contest".into(), contest.name.clone().into());
    context.insert(
        "closes".into(),
        contest.closes.format("%Y-%m-%d %H:%M").to_string().into(),
    );
    context.insert(
        "draw_at".into(),
        contest.draw_at.format("%Y-%m-%d %H:%M").to_string().into(),
    );
    let people: Vec<serde_json::Value> = winners
        .iter()
        .map(|w| serde_json::json!({ "handle": w.author, "network": w.network }))
        .collect();
    context.insert("winner".into(), people.first().cloned().unwrap_or_default());
    context.insert("winners".into(), people.into());
    serde_json::Value::Object(context)
}

fn announcement(parts: &Parts, contest: &ContestPlan, now: DateTime<Utc>) -> StoreResult<NewRun> {
    let text = parts
        .texts
        .render(&contest.announce_text, &context(contest, &[]))?
        .unwrap_or_else(|e| format!("(the announcement cannot be rendered: {})", e.message));
    let mut run = post_run(
        parts,
        contest,
        "announce",
        contest.announce_at.with_timezone(&Utc),
        text,
        None,
        now,
    )?;
    if let StepSpec::Post { media, .. } = &mut run.steps[0] {
        *media = contest.announce_media.clone();
    }
    for row in &mut run.outbox {
        row.post.media = contest
            .announce_media
            .iter()
            .map(|m| parts.plan.root.join(m))
            .collect();
    }
    Ok(run)
}

/// A run of one post by the contest's account, through the content rules.
fn post_run(
    parts: &Parts,
    contest: &ContestPlan,
    item: &str,
    fire_at: DateTime<Utc>,
    text: String,
    reply_to: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<NewRun> {
    let key = ItemKey::new(&contest.name, item);
    let mut run = NewRun::running(key.clone(), to_millis(fire_at), parts.revision);
    let accounts = [contest.account.clone()];
    let local = fire_at.with_timezone(&contest.timezone);
    match crate::rules::check_post(
        parts.plan,
        parts.scripts,
        parts.texts,
        &contest.name,
        &accounts,
        &text,
        local,
    )? {
        Err(rejection) => {
            run.state = RunState::Rejected;
            run.reason = Some(rejection.to_string());
        }
        Ok(versions) => {
            for (step, version) in versions.into_iter().enumerate() {
                for account in &version.accounts {
                    run.outbox.push(outbox_row(
                        &key,
                        run.fire_at,
                        step,
                        account,
                        &version.text,
                        reply_to.clone(),
                        None,
                        now,
                    ));
                }
                run.steps.push(StepSpec::Post {
                    to: version.accounts,
                    text: version.text,
                    media: Vec::new(),
                    // Resolved to the announcement's network id when sent after a wait.
                    reply_to: reply_to.as_ref().map(|_| "announce".to_string()),
                });
            }
            run.current_step = run.steps.len();
            // Quiet hours and blackouts hold contest posts like campaign posts.
            if let Some(hold) = crate::rules::hold(parts.plan, &contest.name, &accounts, now) {
                run.reason = Some(hold.to_string());
                run.outbox.clear();
                match hold.then {
                    crate::playbook::raw::Then::Skip => {
                        run.state = RunState::Skipped;
                        run.steps.clear();
                    }
                    crate::playbook::raw::Then::Delay => {
                        run.steps.insert(
                            0,
                            StepSpec::Wait {
                                seconds: (hold.until - now).num_seconds().max(0),
                            },
                        );
                        run.current_step = 0;
                        run.wake_at = Some(to_millis(hold.until));
                        run.state = RunState::Waiting;
                    }
                }
            }
        }
    }
    Ok(run)
}

#[allow(clippy::too_many_arguments)]
fn outbox_row(
    key: &ItemKey,
    fire_at: i64,
    step: usize,
    account: &str,
    text: &str,
    reply_to: Option<String>,
    direct_to: Option<String>,
    now: DateTime<Utc>,
) -> NewOutbox {
    NewOutbox {
        step,
        account: account.to_string(),
        post: OutgoingPost {
            idempotency_key: idempotency_key(key, fire_at, step, account),
            text: text.to_string(),
            media: Vec::new(),
            reply_to,
            playbook: key.playbook.clone(),
            item: key.item.clone(),
            direct_to,
            notice: false,
        },
        due: to_millis(now),
    }
}

/// The public reply naming `winners` (with the revealed seed), and a direct message to
/// each where the network allows; otherwise the contest's owner is asked to contact them.
fn winner_runs(
    parts: &Parts,
    contest: &ContestPlan,
    state: &ContestState,
    winners: &[String],
    item: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<NewRun>> {
    let entries: std::collections::HashMap<String, Entry> =
        load_entries(parts.store, &contest.name)?
            .into_iter()
            .map(|e| (e.key(), e))
            .collect();
    let people: Vec<Entry> = winners
        .iter()
        .filter_map(|k| entries.get(k).cloned())
        .collect();
    let context = context(contest, &people);
    let seed = state.seed.as_deref().unwrap_or_default();
    let public = if item == "winners" {
        let body = match (&contest.winners_reply, people.is_empty()) {
            (_, true) => "No eligible entries: there are no winners.".to_string(),
            (Some(template), false) => parts
                .texts
                .render(template, &context)?
                .unwrap_or_else(|e| format!("(cannot render the winners' reply: {})", e.message)),
            (None, false) => format!(
                "Winners: {}",
                people
                    .iter()
                    .map(|p| p.author.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "{body}\nDraw seed: {seed} (`crier contest verify` checks it against the commitment)"
        )
    } else {
        let last = state
            .substitutions
            .last()
            .expect("a substitution was recorded");
        match people.first() {
            Some(person) => format!(
                "{} was disqualified ({}); {} wins instead.",
                last.out, last.reason, person.author
            ),
            None => format!(
                "{} was disqualified ({}); there is no reserve left.",
                last.out, last.reason
            ),
        }
    };
    let fire_at = contest.draw_at.with_timezone(&Utc);
    let reply_to = announcement_ids(parts, contest)?.into_iter().next();
    let mut runs = vec![post_run(
        parts, contest, item, fire_at, public, reply_to, now,
    )?];
    let Some(dm_template) = &contest.winners_dm else {
        return Ok(runs);
    };
    let can_dm = parts
        .plan
        .accounts
        .get(&contest.account)
        .is_some_and(|a| crate::connectors::Capabilities::of(a.network).direct_message);
    let key = ItemKey::new(&contest.name, format!("{item}-messages"));
    let mut run = NewRun::running(key.clone(), to_millis(fire_at), parts.revision);
    for (index, person) in people.iter().enumerate() {
        let personal = context_for(contest, person, &people);
        let text = parts
            .texts
            .render(dm_template, &personal)?
            .unwrap_or_else(|e| format!("(cannot render the message: {})", e.message));
        if can_dm {
            run.outbox.push(outbox_row(
                &key,
                run.fire_at,
                index,
                &contest.account,
                &text,
                None,
                Some(person.author.clone()),
                now,
            ));
            run.steps.push(StepSpec::Post {
                to: vec![contest.account.clone()],
                text,
                media: Vec::new(),
                reply_to: None,
            });
        } else {
            let accounts: Vec<String> = contest
                .owner
                .as_ref()
                .and_then(|owner| parts.plan.people.get(owner))
                .map(|p| p.notify.clone())
                .unwrap_or_default();
            let note = format!(
                "{} won {} but {} cannot send direct messages: please contact them. Their message: {text}",
                person.author, contest.name, contest.account
            );
            for account in &accounts {
                let mut row = outbox_row(&key, run.fire_at, index, account, &note, None, None, now);
                row.post.notice = true;
                run.outbox.push(row);
            }
            run.steps.push(StepSpec::Notify {
                accounts,
                text: note,
            });
        }
    }
    run.current_step = run.steps.len();
    if !run.steps.is_empty() {
        runs.push(run);
    }
    Ok(runs)
}

fn context_for(contest: &ContestPlan, person: &Entry, all: &[Entry]) -> serde_json::Value {
    let mut context = context(contest, all);
    context["winner"] = serde_json::json!({ "handle": person.author, "network": person.network });
    context
}

fn commit_runs(parts: &Parts, runs: Vec<NewRun>, now: DateTime<Utc>) -> StoreResult<()> {
    parts
        .store
        .commit(&Batch {
            now: to_millis(now),
            runs,
            ..Batch::default()
        })
        .map(|_| ())
}
