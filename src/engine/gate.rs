//! What every send passes just before it leaves: the kill switch (a pause covering it holds
//! it, unclaimable, until the pause lifts) and the posting rules' limits (a send over one
//! goes back to wait for its slot, the rule named). Both are decided at the moment of
//! sending, from the store, so they hold for every campaign, contest and crisis post, and
//! a pause takes effect from the dispatcher's next claim.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::playbook::plan::Plan;
use crate::rules::limits::{Limiter, Taken};
use crate::store::{OutboxId, OutboxOutcome, OutboxRow, PauseView, Store, StoreResult, to_millis};

/// Claimed rows split: those that go out now, and the outcomes of those held or deferred.
pub struct Checked {
    pub go: Vec<OutboxRow>,
    pub stopped: Vec<(OutboxId, OutboxOutcome)>,
}

/// Splits claimed rows into those that go out now and those held or deferred.
pub fn check(
    plan: &Plan,
    store: &dyn Store,
    rows: Vec<OutboxRow>,
    now: DateTime<Utc>,
) -> StoreResult<Checked> {
    let pauses = store.pauses(to_millis(now))?;
    let mut limiter = if Limiter::any(plan) {
        let claimed: HashSet<OutboxId> = rows.iter().map(|row| row.id).collect();
        let since = to_millis(now - Limiter::lookback(plan));
        let taken = store
            .send_slots(since, to_millis(now))?
            .into_iter()
            // This batch's rows are `sending` since their claim; they are placed below.
            .filter(|slot| !claimed.contains(&slot.id))
            .map(|slot| Taken {
                account: slot.account,
                playbook: slot.playbook,
                at: slot.at,
            })
            .collect();
        Some(Limiter::new(plan, taken))
    } else {
        None
    };
    let mut go = Vec::with_capacity(rows.len());
    let mut stopped = Vec::new();
    for row in rows {
        // Only looked up when a pause is in force: this is the dispatcher's hot path.
        let is_campaign = || plan.campaigns.iter().any(|c| c.name == row.post.playbook);
        // Notices to the team are never held, and a crisis plan's own pause does not hold the
        // plan's own posts (its holding statement must go out).
        let own_pause = |p: &PauseView| {
            p.by.strip_prefix("crisis:")
                .is_some_and(|plan| plan == row.post.playbook)
        };
        if let Some(pause) = pauses.iter().find(|p| {
            !row.post.notice
                && !own_pause(p)
                && p.scope
                    .covers(&row.account, &row.post.playbook, is_campaign())
        }) {
            stopped.push((
                row.id,
                OutboxOutcome::Held {
                    note: held_note(pause, plan),
                },
            ));
            continue;
        }
        // Direct messages (to contest winners) and notices to the team (alerts, approval
        // requests) are not posts: the limits do not count them.
        if let Some(delay) = limiter
            .as_mut()
            .filter(|_| row.post.direct_to.is_none() && !row.post.notice)
            .and_then(|limiter| limiter.place(&row.account, &row.post.playbook, now, row.reserved))
        {
            stopped.push((
                row.id,
                OutboxOutcome::Deferred {
                    at: to_millis(delay.until),
                    note: delay.to_string(),
                },
            ));
            continue;
        }
        go.push(row);
    }
    Ok(Checked { go, stopped })
}

/// `paused (campaign `sale`) by olena until 2026-12-01 18:00: storm warning`.
pub fn held_note(pause: &PauseView, plan: &Plan) -> String {
    let until = pause
        .until
        .and_then(DateTime::from_timestamp_millis)
        .map(|until| {
            format!(
                " until {}",
                until
                    .with_timezone(&plan.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
            )
        })
        .unwrap_or_default();
    format!(
        "paused ({}) by {}{until}: {}",
        pause.scope, pause.by, pause.reason
    )
}
