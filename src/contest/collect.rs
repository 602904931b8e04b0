//! Collecting entries under `crier run`: every contest taking entries reads its account's
//! mentions and replies through the connector, and a `from: hashtag` contest also the posts
//! carrying its hashtag (`Connector::search_hashtag`), each from the cursor it stopped at,
//! and stores each entry once per (network, id) however many feeds and pages it appears in
//! (an edit updates it, or is kept aside after the close). Each cursor is saved after the
//! entries it follows, so a restart reads a page again rather than skip one. Posts carrying
//! the hashtag, and mentions, from before the announcement are not entries. Pages are read
//! by the loop crisis mentions share (`connectors::paging`), a feed other readers take from
//! too (a Telegram bot's updates) through `store::shared_feed`; store calls run off the async
//! workers (`StoreHandle`). A store that cannot be read stops that contest's round with an
//! error: it is never taken for "no entries" or "no cursor".

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use std::sync::Arc;

use super::entries::Entry;
use super::lifecycle::{add_entries, load_state, unchecked_entries};
use crate::connectors::paging::{PagingError, read_pages};
use crate::connectors::registry::Connectors;
use crate::connectors::{Capabilities, Connector, MentionPage, SendError};
use crate::playbook::plan::{ContestPlan, Plan};
use crate::playbook::raw::EntrySource;
use crate::store::{StoreHandle, shared_feed, to_millis};

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

/// Where a contest's entries are read from. A `from: hashtag` contest reads both: posts
/// carrying the hashtag (which need not mention the account) and the account's mentions
/// (which a reply to the announcement is, on every network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed<'a> {
    Mentions,
    Hashtag(&'a str),
}

impl Feed<'_> {
    /// Where the feed's cursor is stored: each feed has its own.
    fn cursor_key(self, contest: &str) -> String {
        match self {
            Feed::Mentions => format!("{contest}#mentions-cursor"),
            Feed::Hashtag(_) => format!("{contest}#hashtag-cursor"),
        }
    }

    async fn read(
        self,
        store: &StoreHandle,
        connector: &Arc<dyn Connector>,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        match self {
            Feed::Mentions => shared_feed::mentions(store, connector, cursor).await,
            Feed::Hashtag(tag) => connector.search_hashtag(tag, cursor).await,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Feed::Mentions => "mentions",
            Feed::Hashtag(_) => "hashtag",
        }
    }
}

/// The feeds `contest` reads on a network that can do what `capabilities` says.
fn feeds<'a>(contest: &'a ContestPlan, capabilities: Capabilities) -> Vec<Feed<'a>> {
    let mut feeds = Vec::new();
    if contest.source == EntrySource::Hashtag
        && let Some(tag) = &contest.hashtag
    {
        if capabilities.search_hashtags {
            feeds.push(Feed::Hashtag(tag));
        } else {
            // Validation refuses this; a connector that claims less than its network can
            // still get here.
            tracing::warn!(contest = %contest.name, "the account cannot search posts by hashtag; reading its mentions only");
        }
    }
    if capabilities.read_mentions {
        feeds.push(Feed::Mentions);
    }
    feeds
}

pub use crate::connectors::paging::Collected;

/// Reads new entries for every contest taking them.
pub async fn collect(
    plan: &Plan,
    store: &StoreHandle,
    connectors: &Connectors,
    now: DateTime<Utc>,
) -> Collected {
    let mut collected = Collected::default();
    for contest in &plan.contests {
        let taking = now >= contest.announce_at.with_timezone(&Utc)
            && now <= contest.closes.with_timezone(&Utc) + AFTER_CLOSE;
        if !taking {
            continue;
        }
        let name = contest.name.clone();
        let committed = match store.call(move |store| load_state(store, &name)).await {
            Ok(state) => state.committed.is_some(),
            Err(error) => {
                tracing::error!(contest = %contest.name, "cannot read the contest's state: {error}");
                collected.errors.push(format!(
                    "{}: cannot read the contest's state: {error}",
                    contest.name
                ));
                continue;
            }
        };
        if committed && now > contest.closes.with_timezone(&Utc) + AFTER_CLOSE {
            continue;
        }
        let Some(connector) = connectors.get(&contest.account) else {
            continue;
        };
        for feed in feeds(contest, connector.capabilities()) {
            match read_feed(store, contest, &connector, feed, now).await {
                Ok(new) => collected.new += new,
                Err(error) => collected.errors.push(format!("{}: {error}", contest.name)),
            }
        }
        if !committed
            && now > contest.closes.with_timezone(&Utc)
            && let Err(error) = recheck_at_close(store, contest, connector.as_ref()).await
        {
            collected.errors.push(format!("{}: {error}", contest.name));
        }
    }
    collected
}

/// Entries checked per write while rechecking, so that progress survives an interruption.
const RECHECK_BATCH: usize = 50;

/// Reads every entry made before the close once more, right after it, before the list is
/// frozen: one its author deleted is marked (and left out as `deleted`), and one edited
/// before the close takes its current text (the text at close is the one judged; mentions
/// polling does not see edits). An entry is checked once; a network that cannot read a post
/// again (a `Permanent` answer) leaves it as last seen, and a passing failure stops this
/// round, to go on at the next poll. A store error stops it too, and is answered.
async fn recheck_at_close(
    store: &StoreHandle,
    contest: &ContestPlan,
    connector: &dyn Connector,
) -> Result<(), String> {
    let network = connector.network().name();
    let closes = contest.closes.with_timezone(&Utc);
    let plan = contest.clone();
    let entries = match store
        .call(move |store| unchecked_entries(store, &plan))
        .await
    {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(contest = %contest.name, "cannot read entries: {error}");
            return Err(format!("cannot read entries: {error}"));
        }
    };
    let unchecked = entries
        .into_iter()
        .filter(|e| e.network == network && e.at <= closes && !e.checked_at_close);
    let mut checked = Vec::new();
    let mut stop = false;
    for entry in unchecked {
        let mut entry = match connector.fetch_post(&entry.id).await {
            Ok(None) => Entry {
                deleted_before_close: true,
                ..entry
            },
            // Edited after the close (where the network says when): kept aside.
            Ok(Some(now_seen))
                if now_seen.text != entry.text
                    && now_seen.edited_at.is_some_and(|at| at > closes) =>
            {
                Entry {
                    edited_after_close: Some(now_seen.text),
                    ..entry
                }
            }
            Ok(Some(now_seen)) if now_seen.text != entry.text => Entry {
                text: now_seen.text,
                ..entry
            },
            Ok(Some(_)) | Err(SendError::Permanent { .. }) => entry,
            Err(error) => {
                tracing::warn!(contest = %contest.name, "cannot read entries again at the close: {error}");
                stop = true;
                break;
            }
        };
        entry.checked_at_close = true;
        checked.push(entry);
        if checked.len() == RECHECK_BATCH {
            write_checked(store, contest, &mut checked).await?;
        }
    }
    write_checked(store, contest, &mut checked).await?;
    if stop {
        tracing::info!(contest = %contest.name, "rechecking entries goes on at the next poll");
    }
    Ok(())
}

/// Stores rechecked entries.
async fn write_checked(
    store: &StoreHandle,
    contest: &ContestPlan,
    checked: &mut Vec<Entry>,
) -> Result<(), String> {
    let writes: Vec<(String, String)> = checked
        .drain(..)
        .map(|e| {
            (
                e.key(),
                serde_json::to_string(&e).expect("entries serialise"),
            )
        })
        .collect();
    let name = contest.name.clone();
    let now = to_millis(Utc::now());
    store
        .call(move |store| store.put_contest_entries(&name, &writes, now))
        .await
        .map_err(|error| {
            tracing::error!(contest = %contest.name, "cannot store rechecked entries: {error}");
            format!("cannot store rechecked entries: {error}")
        })
}

/// Reads `feed` from its cursor, a page at a time, storing entries before the cursor that
/// follows them; returns how many entries were new, or why it stopped.
async fn read_feed(
    store: &StoreHandle,
    contest: &ContestPlan,
    connector: &Arc<dyn Connector>,
    feed: Feed<'_>,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let network = connector.network().name();
    let key = feed.cursor_key(&contest.name);
    let announced = contest.announce_at.with_timezone(&Utc);
    let cursor_key = key.clone();
    let cursor = match store
        .call(move |store| store.contest_state(&cursor_key))
        .await
    {
        Ok(cursor) => cursor,
        Err(error) => {
            // Not "no cursor": that would read from the latest page and skip entries.
            tracing::error!(contest = %contest.name, "cannot read the {} cursor: {error}", feed.name());
            return Err(format!("cannot read the {} cursor: {error}", feed.name()));
        }
    };
    let paged = read_pages(
        cursor,
        MAX_PAGES,
        |cursor| {
            let connector = connector.clone();
            async move { feed.read(store, &connector, cursor.as_deref()).await }
        },
        |page| {
            let entries: Vec<Entry> = page
                .mentions
                .iter()
                // Posts from before the contest are not entries: a hashtag is anyone's, and
                // the first read of mentions (no cursor yet) starts with the most recent page.
                .filter(|post| post.created_at >= announced)
                .map(|mention| Entry::from_mention(network, mention))
                .collect();
            let (contest, key) = (contest.clone(), key.clone());
            store.call(move |store| {
                let added = add_entries(store, &contest, entries, now)?;
                if let Some(next) = &page.cursor {
                    store.put_contest_state(&key, next, to_millis(now))?;
                }
                Ok(added)
            })
        },
    )
    .await;
    match paged.error {
        None => Ok(paged.saved),
        Some(PagingError::Read(error)) => {
            tracing::warn!(contest = %contest.name, "cannot read entries: {error}");
            Err(format!("cannot read the {}: {error}", feed.name()))
        }
        Some(PagingError::Save(error)) => {
            tracing::error!(contest = %contest.name, "cannot store entries: {error}");
            Err(format!("cannot store entries: {error}"))
        }
    }
}
