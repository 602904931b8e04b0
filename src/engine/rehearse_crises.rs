//! What a rehearsal feeds the crisis plans, at the times `crier run` would see it: the events
//! file's mentions and replies go into the store's mention stream of every plan watching
//! their account, and its incident decisions (`ack`, `approve`, `reject`, `resolve`) are
//! recorded as `crier incident …` records them. The engine's own crisis tick (the one under
//! `crier run`) then evaluates, runs the steps and commits their notifications, pauses and
//! posts, so a rehearsal shows exactly what the service would do.

use chrono::{DateTime, Utc};

use super::clock::to_millis;
use super::core::Engine;
use super::rehearse::{EventKind, RehearsalEvent};
use crate::crisis::runner::Action;
use crate::playbook::plan::Plan;
use crate::store::{NewMention, Store, StoreResult};

/// A decision the crisis plans could not take, and why.
pub(super) struct Refusal<'e> {
    pub event: &'e RehearsalEvent,
    pub reason: String,
}

/// The crisis side of one rehearsal: what is still to be fed, and when the plans tick next.
pub(super) struct CrisisFeed<'e> {
    /// (time, event number, event), oldest first.
    mentions: Vec<(i64, usize, &'e RehearsalEvent)>,
    decisions: Vec<(i64, &'e RehearsalEvent)>,
    next_mention: usize,
    next_decision: usize,
    /// The next evaluation tick; `None` without crisis plans.
    next_tick: Option<i64>,
    /// The shortest `every` of the plans: ticks fall on `from`, `from + every`, ….
    every: i64,
}

impl<'e> CrisisFeed<'e> {
    pub fn new(plan: &Plan, events: &'e [RehearsalEvent], from: DateTime<Utc>) -> Self {
        let every = plan
            .crises
            .iter()
            .map(|c| c.every.num_milliseconds().max(1_000))
            .min();
        let mut mentions: Vec<_> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.kind, EventKind::Mention | EventKind::Reply))
            .map(|(index, e)| (e.at.timestamp_millis(), index, e))
            .collect();
        mentions.sort_by_key(|(at, index, _)| (*at, *index));
        let mut decisions: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventKind::Approval && e.playbook.is_none())
            .map(|e| (e.at.timestamp_millis(), e))
            .collect();
        decisions.sort_by_key(|(at, _)| *at);
        CrisisFeed {
            mentions,
            // Without crisis plans too: each is refused, with the reason.
            decisions,
            next_mention: 0,
            next_decision: 0,
            next_tick: every.map(|_| to_millis(from)),
            every: every.unwrap_or(60_000),
        }
    }

    /// When the crisis plans next need the engine: their next evaluation, or a decision.
    pub fn next_at(&self) -> Option<i64> {
        let decision = self.decisions.get(self.next_decision).map(|(at, _)| *at);
        [self.next_tick, decision].into_iter().flatten().min()
    }

    /// Stores the mentions and records the decisions made by `now`, then ticks the crisis
    /// plans. Returns the decisions refused, with the reason.
    pub fn tick(
        &mut self,
        plan: &Plan,
        engine: &mut Engine,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Refusal<'e>>> {
        let now_ms = to_millis(now);
        self.store_mentions(plan, store, now_ms)?;
        let mut refused = Vec::new();
        let mut recorded = Vec::new();
        while let Some(&(at, event)) = self.decisions.get(self.next_decision) {
            if at > now_ms {
                break;
            }
            self.next_decision += 1;
            match record(plan, store, event, at)? {
                Ok(id) => recorded.push((id, event)),
                Err(reason) => refused.push(Refusal { event, reason }),
            }
        }
        engine.tick_crises(now)?;
        for (id, event) in recorded {
            let outcome = store.incident_action(id)?.and_then(|row| {
                row.outcome.or_else(|| {
                    row.applied_at
                        .is_none()
                        .then(|| "the incident closed before it was applied".to_string())
                })
            });
            if let Some(reason) = outcome {
                refused.push(Refusal { event, reason });
            }
        }
        while self.next_tick.is_some_and(|tick| tick <= now_ms) {
            self.next_tick = self.next_tick.map(|tick| tick + self.every);
        }
        Ok(refused)
    }

    /// Every mention made by `now`, into the stream of each plan watching its account: a
    /// plan's mentions of one tick are stored in one call, in the events' order, as `crier
    /// run` stores a page it read. (A rehearsal keeps no read cursor, and only a cursor
    /// belongs to an account: the mentions themselves do not name theirs.)
    fn store_mentions(&mut self, plan: &Plan, store: &dyn Store, now: i64) -> StoreResult<()> {
        let first = self.next_mention;
        while let Some(&(at, _, _)) = self.mentions.get(self.next_mention) {
            if at > now {
                break;
            }
            self.next_mention += 1;
        }
        let made = &self.mentions[first..self.next_mention];
        if made.is_empty() {
            return Ok(());
        }
        let mut batch: Vec<NewMention> = Vec::with_capacity(made.len());
        for crisis in &plan.crises {
            batch.clear();
            for &(at, index, event) in made {
                let watched = match event.account.as_deref() {
                    None => true,
                    Some(account) => {
                        crisis.watch.is_empty() || crisis.watch.iter().any(|w| w == account)
                    }
                };
                if !watched {
                    continue;
                }
                batch.push(NewMention {
                    // Zero-padded, so keys sort in the file's order (usually the order they
                    // are stored in): each lands at the end of the store's (plan, key) index,
                    // where SQLite places it without searching, not anywhere in it.
                    key: format!("event-{:010}", index + 1),
                    at,
                    author: event.author.clone().unwrap_or_default(),
                    text: event.text.clone().unwrap_or_default(),
                });
            }
            if !batch.is_empty() {
                // No cursor, so no account it would belong to.
                store.add_crisis_mentions(&crisis.name, "", &batch, None, now)?;
            }
        }
        Ok(())
    }
}

/// Records a decision on the open incident of the plan `event.incident` names, as
/// `crier incident …` does; returns its id, or why there is nothing to decide.
fn record(
    plan: &Plan,
    store: &dyn Store,
    event: &RehearsalEvent,
    at: i64,
) -> StoreResult<Result<i64, String>> {
    let Some(name) = event.incident.as_deref() else {
        return Ok(Err(
            "an approval names a post (`playbook` and `item`) or an incident (`incident`)".into(),
        ));
    };
    if !plan.crises.iter().any(|c| c.name == name) {
        return Ok(Err(format!("there is no crisis plan `{name}`")));
    }
    let Some(by) = event.by.clone() else {
        return Ok(Err("an approval event needs `by`".into()));
    };
    let note = event.note.clone();
    let action = match event.decision.as_deref() {
        Some("ack") => Action::Ack { by },
        Some("resolve") => Action::Resolve { by, note },
        Some("approve") => Action::Decide {
            by,
            approve: true,
            note,
        },
        Some("reject") => Action::Decide {
            by,
            approve: false,
            note,
        },
        other => return Ok(Err(format!("`{other:?}` is not a decision"))),
    };
    let open = store
        .incidents()?
        .into_iter()
        .find(|i| i.plan == name && i.status == "open");
    let Some(incident) = open else {
        return Ok(Err(format!("{name} has no open incident")));
    };
    let json = serde_json::to_string(&action).expect("actions serialise");
    Ok(Ok(store.add_incident_action(incident.id, &json, at)?))
}
