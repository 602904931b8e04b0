//! Reading the watched accounts' mentions under `crier run`: for every crisis plan, each
//! watched account's mentions and replies are read through its connector from the cursor it
//! stopped at, and stored once per network id (an account watched by several plans is read
//! for each, with its own cursor). The engine's crisis tick takes them from the store.

use chrono::{DateTime, Utc};

use crate::connectors::registry::Connectors;
use crate::playbook::plan::Plan;
use crate::store::{NewMention, Store, to_millis};

/// Pages read per account per round, at most.
const MAX_PAGES: usize = 20;

/// Reads new mentions for every crisis plan; returns how many were new.
pub async fn collect(
    plan: &Plan,
    store: &dyn Store,
    connectors: &Connectors,
    now: DateTime<Utc>,
) -> usize {
    let mut new = 0;
    for crisis in &plan.crises {
        for account in &crisis.watch {
            let Some(connector) = connectors.get(account) else {
                continue;
            };
            if !connector.capabilities().read_mentions {
                continue;
            }
            let network = connector.network().name();
            let mut cursor = match store.crisis_cursor(&crisis.name, account) {
                Ok(cursor) => cursor,
                Err(error) => {
                    tracing::error!(plan = %crisis.name, "cannot read the mentions cursor: {error}");
                    continue;
                }
            };
            for _ in 0..MAX_PAGES {
                let page = match connector.mentions(cursor.as_deref()).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::warn!(plan = %crisis.name, account = %account, "cannot read mentions: {error}");
                        break;
                    }
                };
                let mentions: Vec<NewMention> = page
                    .mentions
                    .iter()
                    .map(|m| NewMention {
                        key: format!("{network}:{}", m.id),
                        at: to_millis(m.created_at),
                        author: m.author.handle.clone(),
                        text: m.text.clone(),
                    })
                    .collect();
                let moved = page.cursor.is_some() && page.cursor != cursor;
                match store.add_crisis_mentions(
                    &crisis.name,
                    account,
                    &mentions,
                    page.cursor.as_deref(),
                    to_millis(now),
                ) {
                    Ok(added) => new += added,
                    Err(error) => {
                        tracing::error!(plan = %crisis.name, "cannot store mentions: {error}");
                        break;
                    }
                }
                if page.cursor.is_some() {
                    cursor = page.cursor;
                }
                if mentions.is_empty() || !moved {
                    break;
                }
            }
        }
    }
    new
}
