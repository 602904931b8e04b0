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

/// The last fire handled per item, as the store has it. Compact, since a burst of N
/// one-off posts leaves N of them for as long as the service runs: each item's two names
/// in one allocation (an `ItemKey` takes two, and twice the room in the table).
#[derive(Debug, Clone, Default)]
pub struct Cursors {
    map: HashMap<CursorKey, DateTime<Utc>>,
}

impl Cursors {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cursor of the item named by `key`.
    pub fn get(&self, key: &ItemKey) -> Option<DateTime<Utc>> {
        self.map.get(key as &dyn KeyNames).copied()
    }

    /// The cursor of `item` of `plan`, looked up without making a key (a start looks up
    /// every item of the plan).
    pub fn of(&self, item: ItemRef, plan: &Plan) -> Option<DateTime<Utc>> {
        if self.map.is_empty() {
            return None;
        }
        let names = (
            item.campaign(plan).name.as_str(),
            item.post(plan).id.as_str(),
        );
        self.map.get(&names as &dyn KeyNames).copied()
    }

    /// Sets the cursor of the item named by `key`; the one it had.
    pub fn insert(&mut self, key: &ItemKey, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.map.get_mut(key as &dyn KeyNames) {
            Some(cursor) => Some(std::mem::replace(cursor, at)),
            None => self.map.insert(CursorKey::new(key), at),
        }
    }

    pub fn remove(&mut self, key: &ItemKey) -> Option<DateTime<Utc>> {
        self.map.remove(key as &dyn KeyNames)
    }

    /// Moves each cursor to `other`'s where that is later (or takes it where this has none).
    pub fn advance_to(&mut self, other: &Cursors) {
        for (key, at) in &other.map {
            match self.map.get_mut(key as &dyn KeyNames) {
                Some(cursor) => *cursor = (*cursor).max(*at),
                None => {
                    self.map.insert(key.clone(), *at);
                }
            }
        }
    }
}

impl FromIterator<(ItemKey, DateTime<Utc>)> for Cursors {
    fn from_iter<I: IntoIterator<Item = (ItemKey, DateTime<Utc>)>>(iter: I) -> Self {
        let mut cursors = Cursors::default();
        for (key, at) in iter {
            cursors.insert(&key, at);
        }
        cursors
    }
}

/// An item's two names in one allocation, the playbook's first.
#[derive(Debug, Clone)]
struct CursorKey {
    names: Box<str>,
    playbook_len: u32,
}

impl CursorKey {
    fn new(key: &ItemKey) -> CursorKey {
        let mut names = String::with_capacity(key.playbook.len() + key.item.len());
        names.push_str(&key.playbook);
        names.push_str(&key.item);
        CursorKey {
            names: names.into_boxed_str(),
            playbook_len: u32::try_from(key.playbook.len()).expect("a playbook name under 4 GB"),
        }
    }
}

impl KeyNames for CursorKey {
    fn names(&self) -> (&str, &str) {
        self.names.split_at(self.playbook_len as usize)
    }
}

impl<'a> Borrow<dyn KeyNames + 'a> for CursorKey {
    fn borrow(&self) -> &(dyn KeyNames + 'a) {
        self
    }
}

impl Hash for CursorKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyNames).hash(state);
    }
}

impl PartialEq for CursorKey {
    fn eq(&self, other: &Self) -> bool {
        self.names() == other.names()
    }
}

impl Eq for CursorKey {}

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
