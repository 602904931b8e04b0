//! Collecting entries under `crier run`: every contest taking entries reads its account's
//! mentions and replies through the connector, from the cursor it stopped at, and stores
//! each one once (an edit updates it, or is kept aside after the close). The cursor is
//! saved after the entries, so a restart reads a page again rather than skip one.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::entries::Entry;
use super::lifecycle::{add_entries, load_state};
use crate::connectors::registry::Connectors;
use crate::engine::clock::to_millis;
use crate::playbook::plan::Plan;
use crate::store::Store;

/// How often entries are read while a contest takes them: 30 s, or
/// `CRIER_ENTRIES_POLL_SECONDS`.
pub fn poll_every() -> Duration {
    let seconds = std::env::var("CRIER_ENTRIES_POLL_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// How long after the close the list is frozen under `crier run`: two polls, so that the
/// entries made just before the close have been read.
pub fn freeze_grace() -> TimeDelta {
    TimeDelta::from_std(poll_every() * 2).unwrap_or(TimeDelta::minutes(1))
}
/// Entries are read this long past the close too: a reply made just before it may reach
/// the network's API a little later. Ones made after it are recorded as late.
const AFTER_CLOSE: TimeDelta = TimeDelta::minutes(10);
/// Pages read per contest per round, at most.
const MAX_PAGES: usize = 20;

fn cursor_key(contest: &str) -> String {
    format!("{contest}#mentions-cursor")
}

/// Reads new entries for every contest taking them; returns how many were new.
pub async fn collect(
    plan: &Plan,
    store: &dyn Store,
    connectors: &Connectors,
    now: DateTime<Utc>,
) -> usize {
    let mut new = 0;
    for contest in &plan.contests {
        let taking = now >= contest.announce_at.with_timezone(&Utc)
            && now <= contest.closes.with_timezone(&Utc) + AFTER_CLOSE;
        let committed = load_state(store, &contest.name)
            .map(|s| s.committed.is_some())
            .unwrap_or(false);
        if !taking || committed && now > contest.closes.with_timezone(&Utc) + AFTER_CLOSE {
            continue;
        }
        let Some(connector) = connectors.get(&contest.account) else {
            continue;
        };
        if !connector.capabilities().read_mentions {
            continue;
        }
        let network = connector.network().name();
        let mut cursor = store
            .contest_state(&cursor_key(&contest.name))
            .ok()
            .flatten();
        for _ in 0..MAX_PAGES {
            let page = match connector.mentions(cursor.as_deref()).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(contest = %contest.name, "cannot read entries: {error}");
                    break;
                }
            };
            let entries: Vec<Entry> = page
                .mentions
                .iter()
                .map(|mention| Entry::from_mention(network, mention))
                .collect();
            let count = entries.len();
            match add_entries(store, contest, entries, now) {
                Ok(added) => new += added,
                Err(error) => {
                    tracing::error!(contest = %contest.name, "cannot store entries: {error}");
                    break;
                }
            }
            let moved = page.cursor.is_some() && page.cursor != cursor;
            if let Some(next) = page.cursor {
                if let Err(error) =
                    store.put_contest_state(&cursor_key(&contest.name), &next, to_millis(now))
                {
                    tracing::error!(contest = %contest.name, "cannot store the cursor: {error}");
                    break;
                }
                cursor = Some(next);
            }
            if count == 0 || !moved {
                break;
            }
        }
    }
    new
}
