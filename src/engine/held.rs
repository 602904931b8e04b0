//! Releasing sends a pause held, once no pause covers them any more, by the `missed:`
//! policy when they are released past their time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::core::Engine;
use super::missed::{LATE_GRACE, unsent_because};
use super::timeline::{ItemRef, items};
use crate::store::{ItemKey, Millis, Release, StoreResult, from_millis, to_millis};

impl Engine {
    /// Lets go of the sends no pause holds any more (lifted by hand, or its `until`
    /// passed). A send released within `LATE_GRACE` of its time goes out; a later one
    /// follows its item's `missed:` policy, as if crier had been down: `skip` drops it,
    /// `once` sends only the latest of an item's held fires, `all` sends each within
    /// `max_late`. Released sends still pass the limits, so a resume never bursts.
    /// Returns how many go out.
    pub fn release_held(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let held = self.parts.store.held_sends()?;
        if held.is_empty() {
            return Ok(0);
        }
        let pauses = self.parts.store.pauses(to_millis(now))?;
        let is_campaign = |playbook: &str| self.plan.campaigns.iter().any(|c| c.name == playbook);
        let free: Vec<_> = held
            .into_iter()
            .filter(|send| {
                !pauses.iter().any(|pause| {
                    pause.scope.covers(
                        &send.account,
                        &send.key.playbook,
                        is_campaign(&send.key.playbook),
                    )
                })
            })
            .collect();
        if free.is_empty() {
            return Ok(0);
        }
        let posts: HashMap<ItemKey, ItemRef> = items(&self.plan)
            .into_iter()
            .map(|item| (item.key(&self.plan), item))
            .collect();
        // The latest held fire of each item, for `missed: once`.
        let mut latest: HashMap<&ItemKey, Millis> = HashMap::new();
        for send in &free {
            let at = latest.entry(&send.key).or_insert(send.fire_at);
            *at = (*at).max(send.fire_at);
        }
        let mut releases = Vec::with_capacity(free.len());
        for send in &free {
            let late = now - from_millis(send.fire_at);
            let release = if !is_campaign(&send.key.playbook) || late <= LATE_GRACE {
                Release::Send
            } else if let Some(item) = posts.get(&send.key) {
                let is_latest = send.fire_at >= latest[&send.key];
                match unsent_because(item.post(&self.plan), late, is_latest) {
                    None => Release::Send,
                    Some(why) => Release::Skip {
                        reason: format!("held by a pause past its time; {why}"),
                    },
                }
            } else {
                Release::Skip {
                    reason: "held by a pause, and its post is no longer in the playbooks".into(),
                }
            };
            releases.push((send.id, release));
        }
        let sent = releases
            .iter()
            .filter(|(_, release)| *release == Release::Send)
            .count();
        self.parts.store.release_held(&releases, to_millis(now))?;
        Ok(sent)
    }
}
