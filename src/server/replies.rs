//! Replies to notices, read while the server runs, and handed to
//! `ops::decision_links::reply`, which decides as the person who wrote them ([`handle`],
//! wherever they were read). Every few seconds, each notify account on a network whose
//! replies crier reads (Telegram, Matrix) is read from where it stopped
//! (`connectors::paging`, the cursor kept in the store); the cursor after a page is stored
//! once the page's replies are handled. A Telegram bot's updates are read through
//! `store::shared_feed`, so crisis plans and contests reading the same bot take none of
//! them away; an account in webhook mode is not read here: its updates are pushed to
//! `POST /telegram/{account}`, which hands them to [`handle`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::AppState;
use crate::connectors::Mention;
use crate::connectors::paging::read_pages;
use crate::network::Network;
use crate::ops::Desk;
use crate::ops::decision_links::{self, Reply, ReplyOutcome};
use crate::playbook::plan::Plan;
use crate::store::{StoreHandle, shared_feed, to_millis};

/// How often the notify accounts are read for replies.
const EVERY: Duration = Duration::from_secs(5);
/// Pages read per account per round, at most.
const MAX_PAGES: usize = 10;

/// Whether `account`'s replies arrive elsewhere than this poller: a Telegram account in
/// webhook mode.
fn read_elsewhere(plan: &Plan, account: &str, network: Network) -> bool {
    network == Network::Telegram
        && plan.accounts.get(account).is_some_and(|a| {
            a.config
                .updates
                .as_ref()
                .is_some_and(|u| u.value.trim() == "webhook")
        })
}

/// Hands each of `mentions`, read from `account`, to `ops::decision_links::reply`; answers
/// how many decided. Blocks on the store.
pub(super) fn handle(
    desk: &Desk,
    account: &str,
    network: Network,
    mentions: &[Mention],
    now: DateTime<Utc>,
) -> usize {
    let mut decided = 0;
    for mention in mentions {
        let reply = Reply {
            account,
            network,
            author: &mention.author,
            in_reply_to: mention.in_reply_to.as_deref(),
            text: &mention.text,
        };
        match decision_links::reply(desk, reply, now) {
            Ok(ReplyOutcome::Decided { person, .. }) => {
                decided += 1;
                tracing::info!(%account, %person, "decided by a reply to a notice");
            }
            Ok(ReplyOutcome::Ambiguous { person, waiting }) => {
                tracing::warn!(%account, %person, waiting, "a reply answers none of the notices of the decisions waiting; nothing decided");
            }
            Ok(_) => {}
            Err(refused) => {
                tracing::warn!(%account, "a reply decided nothing: {refused}");
            }
        }
    }
    decided
}

/// Reads replies until the service stops.
pub(super) async fn read_loop(state: AppState) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.view.stopping() => return,
            _ = every.tick() => round(&state).await,
        }
    }
}

/// One round over every notify account.
async fn round(state: &AppState) {
    let Ok(desk) = state.desk() else {
        return;
    };
    let connectors = (state.connectors)();
    let mut accounts: Vec<&String> = Vec::new();
    for person in desk.plan.people.values() {
        if person.users.is_empty() {
            continue;
        }
        for account in &person.notify {
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
    }
    for account in accounts {
        let Some(connector) = connectors.get(account) else {
            continue;
        };
        let network = connector.network();
        if !matches!(network, Network::Telegram | Network::Matrix)
            || !connector.capabilities().read_mentions
        {
            continue;
        }
        if read_elsewhere(&desk.plan, account, network) {
            continue;
        }
        let store = desk.store.clone();
        let named = account.clone();
        let cursor = match tokio::task::spawn_blocking(move || store.reply_cursor(&named)).await {
            Ok(Ok(cursor)) => cursor,
            Ok(Err(error)) => {
                tracing::error!(%account, "cannot read where reading replies stopped: {error}");
                continue;
            }
            Err(_) => continue,
        };
        let desk = Arc::new(desk.clone());
        let feeds = StoreHandle::new(desk.store.clone());
        let paged = read_pages(
            cursor,
            MAX_PAGES,
            |cursor| {
                let (connector, feeds) = (connector.clone(), feeds.clone());
                async move { shared_feed::mentions(&feeds, &connector, cursor.as_deref()).await }
            },
            |page| {
                let (desk, account) = (desk.clone(), account.clone());
                async move {
                    tokio::task::spawn_blocking(move || {
                        let now = Utc::now();
                        let decided = handle(&desk, &account, network, &page.mentions, now);
                        if let Some(cursor) = &page.cursor {
                            desk.store
                                .put_reply_cursor(&account, cursor, to_millis(now))
                                .map_err(|e| e.to_string())?;
                        }
                        Ok::<usize, String>(decided)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                }
            },
        )
        .await;
        if let Some(error) = paged.error {
            tracing::warn!(%account, "reading replies stopped: {error:?}");
        }
    }
}
