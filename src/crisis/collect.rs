//! Reading the watched accounts' mentions under `crier run`: for every crisis plan, each
//! watched account's mentions and replies are read through its connector from the cursor it
//! stopped at (`connectors::paging`), and stored once per network id, each page with the
//! cursor after it in one transaction (an account watched by several plans is read for
//! each, with its own cursor). A feed that others read too (a Telegram bot's updates, which
//! its reply reader and contests read as well) is read through `store::shared_feed`, so
//! every reader sees all of it. The engine's crisis tick takes them from the store. Store
//! calls run off the async workers (`StoreHandle`).

use chrono::{DateTime, Utc};

use crate::connectors::paging::{PagingError, read_pages};
use crate::connectors::registry::Connectors;
use crate::playbook::plan::Plan;
use crate::store::{NewMention, StoreHandle, shared_feed, to_millis};

/// Pages read per account per round, at most.
const MAX_PAGES: usize = 20;

pub use crate::connectors::paging::Collected;

/// Reads new mentions for every crisis plan.
pub async fn collect(
    plan: &Plan,
    store: &StoreHandle,
    connectors: &Connectors,
    now: DateTime<Utc>,
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
                    async move { shared_feed::mentions(store, &connector, cursor.as_deref()).await }
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
                    store.call(move |store| {
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
