//! Replies to notices, read while the server runs: every few seconds, each notify account on
//! a network whose replies crier reads (Telegram, Matrix) is read from where it stopped
//! (`connectors::paging`, the cursor kept in the store), and each reply is handed to
//! `ops::decision_links::reply`, which decides as the person who wrote it. The cursor after a
//! page is stored once the page's replies are handled.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::AppState;
use crate::connectors::paging::read_pages;
use crate::network::Network;
use crate::ops::decision_links::{self, Reply, ReplyOutcome};
use crate::store::to_millis;

/// How often the notify accounts are read for replies.
const EVERY: Duration = Duration::from_secs(5);
/// Pages read per account per round, at most.
const MAX_PAGES: usize = 10;

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
        // A Telegram bot's updates are confirmed by whoever reads them: an account a crisis
        // plan watches is read there, not here.
        if network == Network::Telegram
            && desk.plan.crises.iter().any(|c| c.watch.contains(account))
        {
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
        let paged = read_pages(
            cursor,
            MAX_PAGES,
            |cursor| {
                let connector = connector.clone();
                async move { connector.mentions(cursor.as_deref()).await }
            },
            |page| {
                let (desk, account) = (desk.clone(), account.clone());
                async move {
                    tokio::task::spawn_blocking(move || {
                        let now = Utc::now();
                        let mut decided = 0;
                        for mention in &page.mentions {
                            let reply = Reply {
                                account: &account,
                                network,
                                author: &mention.author,
                                in_reply_to: mention.in_reply_to.as_deref(),
                                text: &mention.text,
                            };
                            match decision_links::reply(&desk, reply, now) {
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
