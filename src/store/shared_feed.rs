//! Feeds several readers share. Reading a Telegram bot's updates (`getUpdates`) confirms
//! them: Telegram forgets what is below the offset asked from, so two readers with cursors
//! of their own (two crisis plans, a contest, the reply reader, two accounts on one bot)
//! would take each other's updates. Every reader of such a feed (`Connector::shared_feed`)
//! reads through [`mentions`] instead: one reader per feed at a time pulls the network's
//! next page into the store (`feed_items`, with the feed's cursor, in one transaction), and
//! each reader goes through the kept items from its own cursor, stored by the reader as it
//! stores any cursor, so it sees every item once, across restarts. Items are kept a day,
//! as long as Telegram keeps updates nobody confirmed.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{TimeDelta, Utc};

use super::{StoreError, StoreHandle, to_millis};
use crate::connectors::{Connector, MentionPage, SendError};

/// How long the items of a shared feed are kept for readers that have not read them yet.
pub const KEEP: TimeDelta = TimeDelta::days(1);
/// Items handed to a reader per page, at most.
const ITEMS_PER_PAGE: usize = 100;
/// How a reader's cursor into a shared feed starts; a cursor without it (none yet, or one
/// stored when the reader read the network itself) starts from the first item kept.
const CURSOR_PREFIX: &str = "feed:";

/// One lock per feed, so that two readers never ask the network from the same cursor.
static PULLING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn pull_lock(feed: &str) -> Arc<tokio::sync::Mutex<()>> {
    PULLING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(feed.to_owned())
        .or_default()
        .clone()
}

/// The mentions of `connector`'s account after `cursor`, as `Connector::mentions` answers
/// them: for an account whose feed is shared, the network's next page is first taken into
/// the store, and the page answered is the kept items after the reader's `cursor`, with the
/// cursor after them (the reader stores it where it stores its cursor).
pub async fn mentions(
    store: &StoreHandle,
    connector: &Arc<dyn Connector>,
    cursor: Option<&str>,
) -> Result<MentionPage, SendError> {
    let Some(feed) = connector.shared_feed() else {
        return connector.mentions(cursor).await;
    };
    pull(store, connector.as_ref(), &feed).await?;
    let after = position(cursor);
    let named = feed.clone();
    let items = store
        .call(move |store| store.feed_items_after(&named, after, ITEMS_PER_PAGE))
        .await
        .map_err(unreadable)?;
    let Some(&(last, _)) = items.last() else {
        return Ok(MentionPage {
            mentions: Vec::new(),
            cursor: Some(format!("{CURSOR_PREFIX}{after}")),
        });
    };
    let items: Vec<String> = items.into_iter().map(|(_, item)| item).collect();
    Ok(MentionPage {
        mentions: connector.mentions_in_feed(&items).await?,
        cursor: Some(format!("{CURSOR_PREFIX}{last}")),
    })
}

/// Where a reader's `cursor` stands in a shared feed.
fn position(cursor: Option<&str>) -> i64 {
    cursor
        .and_then(|cursor| cursor.strip_prefix(CURSOR_PREFIX))
        .and_then(|seq| seq.parse().ok())
        .unwrap_or(0)
}

/// Takes the network's next page of `feed` into the store, with the cursor after it.
async fn pull(store: &StoreHandle, connector: &dyn Connector, feed: &str) -> Result<(), SendError> {
    let lock = pull_lock(feed);
    let _pulling = lock.lock().await;
    let named = feed.to_owned();
    let cursor = store
        .call(move |store| store.feed_cursor(&named))
        .await
        .map_err(unreadable)?;
    let page = connector.read_shared_feed(cursor.as_deref()).await?;
    if page.items.is_empty() && (page.cursor.is_none() || page.cursor == cursor) {
        return Ok(());
    }
    let now = Utc::now();
    let items: Vec<(String, String)> = page
        .items
        .into_iter()
        .map(|item| (item.key, item.item))
        .collect();
    let named = feed.to_owned();
    store
        .call(move |store| {
            store.add_feed_items(
                &named,
                &items,
                page.cursor.as_deref(),
                to_millis(now),
                to_millis(now - KEEP),
            )
        })
        .await
        .map_err(unreadable)?;
    Ok(())
}

/// A store that cannot keep or give a shared feed's items stops the read like a network
/// that cannot be read: the next round goes on from the stored cursors.
fn unreadable(error: StoreError) -> SendError {
    SendError::Transient {
        reason: format!("cannot keep the feed's items: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_from_before_the_feed_starts_at_its_first_item() {
        assert_eq!(position(None), 0);
        assert_eq!(position(Some("4711")), 0);
        assert_eq!(position(Some("feed:12")), 12);
    }
}
