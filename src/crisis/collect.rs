//! Reading the watched accounts' mentions under `crier run`: for every crisis plan, each
//! watched account's mentions and replies are read through its connector from the cursor it
//! stopped at (`connectors::paging`), and stored once per network id, each page with the
//! cursor after it in one transaction (an account watched by several plans is read for
//! each, with its own cursor). The engine's crisis tick takes them from the store. Store
//! calls run off the async workers (`StoreHandle`). Whoever else needs what a watched
//! account receives (a Telegram bot's updates are taken by the one who reads them: replies
//! to notices sent from that bot) is handed each page first, through a [`HandoffSlot`].

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::connectors::Mention;
use crate::connectors::paging::{PagingError, read_pages};
use crate::connectors::registry::Connectors;
use crate::network::Network;
use crate::playbook::plan::Plan;
use crate::store::{NewMention, StoreHandle, to_millis};

/// Pages read per account per round, at most.
const MAX_PAGES: usize = 20;

pub use crate::connectors::paging::Collected;

/// Takes a page of what a watched account (its name, its network) received, before it is
/// stored; called on the blocking pool, so it may block. A page is handed over by each plan
/// that reads it (a network whose reads confirm, like Telegram's `getUpdates`, gives each
/// message to one reader only).
pub type Handoff = Arc<dyn Fn(&str, Network, &[Mention]) + Send + Sync>;

/// Where a front end installs its [`Handoff`]; shared across reloads, empty until set.
#[derive(Clone, Default)]
pub struct HandoffSlot(Arc<RwLock<Option<Handoff>>>);

impl HandoffSlot {
    pub fn set(&self, handoff: Handoff) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(handoff);
    }

    pub fn get(&self) -> Option<Handoff> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Reads new mentions for every crisis plan, handing each page to `handoff` first.
pub async fn collect(
    plan: &Plan,
    store: &StoreHandle,
    connectors: &Connectors,
    now: DateTime<Utc>,
    handoff: Option<Handoff>,
) -> Collected {
    let mut collected = Collected::default();
    let now_ms = to_millis(now);
    for crisis in &plan.crises {
        for account in &crisis.watch {
            let Some(connector) = connectors.get(account) else {
                continue;
            };
            if !connector.capabilities().read_mentions {
                continue;
            }
            let network = connector.network();
            let (name, watched) = (crisis.name.clone(), account.clone());
            let cursor = match store
                .call(move |store| store.crisis_cursor(&name, &watched))
                .await
            {
                Ok(cursor) => cursor,
                Err(error) => {
                    tracing::error!(plan = %crisis.name, "cannot read the mentions cursor: {error}");
                    collected.errors.push(format!(
                        "{}: cannot read the mentions cursor of {account}: {error}",
                        crisis.name
                    ));
                    continue;
                }
            };
            let paged = read_pages(
                cursor,
                MAX_PAGES,
                |cursor| {
                    let connector = connector.clone();
                    async move { connector.mentions(cursor.as_deref()).await }
                },
                |page| {
                    let mentions: Vec<NewMention> = page
                        .mentions
                        .iter()
                        .map(|m| NewMention {
                            key: format!("{}:{}", network.name(), m.id),
                            at: to_millis(m.created_at),
                            author: m.author.handle.clone(),
                            text: m.text.clone(),
                        })
                        .collect();
                    let (name, watched) = (crisis.name.clone(), account.clone());
                    let handoff = handoff.clone();
                    store.call(move |store| {
                        if let Some(handoff) = &handoff {
                            handoff(&watched, network, &page.mentions);
                        }
                        store.add_crisis_mentions(
                            &name,
                            &watched,
                            &mentions,
                            page.cursor.as_deref(),
                            now_ms,
                        )
                    })
                },
            )
            .await;
            collected.new += paged.saved;
            match paged.error {
                None => {}
                Some(PagingError::Read(error)) => {
                    tracing::warn!(plan = %crisis.name, account = %account, "cannot read mentions: {error}");
                    collected.errors.push(format!(
                        "{}: cannot read the mentions of {account}: {error}",
                        crisis.name
                    ));
                }
                Some(PagingError::Save(error)) => {
                    tracing::error!(plan = %crisis.name, "cannot store mentions: {error}");
                    collected.errors.push(format!(
                        "{}: cannot store the mentions of {account}: {error}",
                        crisis.name
                    ));
                }
            }
        }
    }
    collected
}
