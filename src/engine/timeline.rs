//! Which campaign posts fire when: the next fire of an item after an instant, within its
//! campaign's window, and the timer queue (a min-heap) the engine sleeps on. No per-tick
//! scan over all items: only the earliest entry is ever looked at.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, TimeDelta, Utc};

use crate::playbook::plan::{CampaignPlan, Plan, PostPlan, Trigger};
use crate::store::ItemKey;

/// Where an item lives in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
/// Indexes are `u32` to keep the timer queue small with a million items.
pub struct ItemRef {
    pub campaign: u32,
    pub post: u32,
}

impl ItemRef {
    pub fn campaign<'p>(&self, plan: &'p Plan) -> &'p CampaignPlan {
        &plan.campaigns[self.campaign as usize]
    }

    pub fn post<'p>(&self, plan: &'p Plan) -> &'p PostPlan {
        &plan.campaigns[self.campaign as usize].posts[self.post as usize]
    }

    pub fn key(&self, plan: &Plan) -> ItemKey {
        ItemKey::new(&self.campaign(plan).name, self.post(plan).id.as_str())
    }

    /// The item's entry in a map keyed by `ItemKey`, looked up without making a key (a
    /// start looks up every item of the plan).
    pub fn entry_in<'m, V>(&self, plan: &Plan, map: &'m HashMap<ItemKey, V>) -> Option<&'m V> {
        if map.is_empty() {
            return None;
        }
        let names = (
            self.campaign(plan).name.as_str(),
            self.post(plan).id.as_str(),
        );
        map.get(&names as &dyn KeyNames)
    }
}

/// An item key's two names, however they are held: lets a map keyed by `ItemKey` be read
/// with borrowed names. Hashes and compares as `ItemKey`'s derived `Hash` and `Eq` do.
trait KeyNames {
    fn names(&self) -> (&str, &str);
}

impl KeyNames for ItemKey {
    fn names(&self) -> (&str, &str) {
        (&self.playbook, &self.item)
    }
}

impl KeyNames for (&str, &str) {
    fn names(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn KeyNames + 'a> for ItemKey {
    fn borrow(&self) -> &(dyn KeyNames + 'a) {
        self
    }
}

impl Hash for dyn KeyNames + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (playbook, item) = self.names();
        playbook.hash(state);
        item.hash(state);
    }
}

impl PartialEq for dyn KeyNames + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.names() == other.names()
    }
}

impl Eq for dyn KeyNames + '_ {}

/// Every schedulable item of a plan.
pub fn items(plan: &Plan) -> Vec<ItemRef> {
    plan.campaigns
        .iter()
        .enumerate()
        .flat_map(|(c, campaign)| {
            (0..campaign.posts.len()).map(move |p| ItemRef {
                campaign: u32::try_from(c).expect("fewer than 2^32 campaigns"),
                post: u32::try_from(p).expect("fewer than 2^32 posts in a campaign"),
            })
        })
        .collect()
}

/// The first fire of `item` strictly after `after`, inside its campaign's window.
pub fn next_fire(plan: &Plan, item: ItemRef, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let campaign = item.campaign(plan);
    let after = match &campaign.window {
        Some(window) => after.max(window.from.with_timezone(&Utc) - TimeDelta::nanoseconds(1)),
        None => after,
    };
    let until = campaign
        .window
        .as_ref()
        .map(|w| w.until.with_timezone(&Utc));
    let fire = match &item.post(plan).trigger {
        Trigger::At(at) => Some(*at).filter(|at| *at > after),
        Trigger::Cron(schedule) => schedule
            .fire_times_after(campaign.timezone, after)
            .next()
            .map(|at| at.with_timezone(&Utc)),
        Trigger::Hook(_) => None,
    }?;
    match until {
        Some(until) if fire >= until => None,
        _ => Some(fire),
    }
}

/// Every fire of `item` in `(after, until]`, at most `limit` of them (oldest first).
pub fn fires_between(
    plan: &Plan,
    item: ItemRef,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let mut fires = Vec::new();
    let mut cursor = after;
    while fires.len() < limit {
        match next_fire(plan, item, cursor) {
            Some(at) if at <= until => {
                fires.push(at);
                cursor = at;
            }
            _ => break,
        }
    }
    fires
}

/// The timer queue: (fire time, item), earliest first.
#[derive(Debug, Default, Clone)]
pub struct Queue {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, ItemRef)>>,
}

impl Queue {
    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Makes room for `additional` more entries at once (no doubling past what is needed).
    pub fn reserve(&mut self, additional: usize) {
        self.heap.reserve_exact(additional);
    }

    pub fn push(&mut self, at: DateTime<Utc>, item: ItemRef) {
        self.heap.push(Reverse((at, item)));
    }

    pub fn peek(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The item of the earliest entry.
    pub fn peek_item(&self) -> Option<ItemRef> {
        self.heap.peek().map(|Reverse((_, item))| *item)
    }

    /// The earliest entry, if it is due at `now`.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, ItemRef)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_names_find_the_entry_an_item_key_was_stored_under() {
        let mut map = HashMap::new();
        map.insert(ItemKey::new("sale", "daily"), 1);
        map.insert(ItemKey::new("sale", "weekly"), 2);
        map.insert(ItemKey::new("saled", "aily"), 3);
        let find = |names: (&str, &str)| map.get(&names as &dyn KeyNames).copied();
        assert_eq!(find(("sale", "daily")), Some(1));
        assert_eq!(find(("sale", "weekly")), Some(2));
        assert_eq!(find(("saled", "aily")), Some(3));
        assert_eq!(find(("sal", "edaily")), None);
        assert_eq!(find(("sale", "monthly")), None);
    }
}
