//! Mentions and replies pushed in (`POST /api/v1/mentions`), for networks crier cannot read
//! or from a social-listening tool: in the rehearsal events format, each with the network's
//! `id` of the post. They feed contests and crisis plans exactly as mentions crier reads
//! itself do, stored once per (network, id): a mention both pushed and read counts once.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Desk;
use crate::connectors::{Author, Connectors, Mention, PushedUpdateError};
use crate::contest::Entry;
use crate::engine::rehearse::{EventKind, RehearsalEvent};
use crate::store::{NewMention, StoreError, to_millis};

/// The most mentions one push takes.
pub const MAX_MENTIONS: usize = 1000;

/// What a push stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pushed {
    /// Mentions in the push.
    pub received: usize,
    /// Mentions new to a crisis plan (one mention watched by two plans counts twice).
    pub crisis_mentions: usize,
    /// Contest entries new to a contest.
    pub contest_entries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PushRefusal {
    /// The push is refused whole; nothing was stored.
    #[error("mention {index}: {reason}")]
    Invalid { index: usize, reason: String },
    #[error("a push takes at most {MAX_MENTIONS} mentions, not {0}")]
    TooMany(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PushRefusal {
    /// The HTTP status a server answers it with.
    pub fn status(&self) -> u16 {
        match self {
            PushRefusal::Invalid { .. } => 400,
            PushRefusal::TooMany(_) => 413,
            PushRefusal::Store(_) => 503,
        }
    }
}

/// Reads a push: a JSON array of events, or JSON Lines (one event a line).
pub fn parse(body: &[u8]) -> Result<Vec<RehearsalEvent>, PushRefusal> {
    let text = std::str::from_utf8(body).map_err(|_| PushRefusal::Invalid {
        index: 0,
        reason: "the body is not UTF-8".into(),
    })?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| PushRefusal::Invalid {
            index: 0,
            reason: format!("invalid JSON: {e}"),
        });
    }
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| PushRefusal::Invalid {
                index: index + 1,
                reason: format!("invalid JSON: {e}"),
            })
        })
        .collect()
}

/// Stores `mentions` (each a `mention` or `reply` to an account of the plan, with its `id`)
/// for every crisis plan watching its account and every contest on it, at `now`. Every
/// mention is checked before any is stored.
pub fn push(
    desk: &Desk,
    mentions: &[RehearsalEvent],
    now: DateTime<Utc>,
) -> Result<Pushed, PushRefusal> {
    if mentions.len() > MAX_MENTIONS {
        return Err(PushRefusal::TooMany(mentions.len()));
    }
    let mut checked = Vec::with_capacity(mentions.len());
    for (index, event) in mentions.iter().enumerate() {
        checked.push(check(desk, index + 1, event)?);
    }
    Ok(store_mentions(desk, &checked, now)?)
}

/// Stores mentions, each (account, network, mention), as pushed mentions are stored.
fn store_mentions(
    desk: &Desk,
    checked: &[(String, &'static str, Mention)],
    now: DateTime<Utc>,
) -> Result<Pushed, StoreError> {
    let mut pushed = Pushed {
        received: checked.len(),
        ..Pushed::default()
    };
    let store = desk.store.as_ref();
    for (account, network, mention) in checked {
        for crisis in desk
            .plan
            .crises
            .iter()
            .filter(|c| c.watch.contains(account))
        {
            pushed.crisis_mentions += store.add_crisis_mentions(
                &crisis.name,
                account,
                &[NewMention {
                    key: format!("{network}:{}", mention.id),
                    at: to_millis(mention.created_at),
                    author: mention.author.handle.clone(),
                    text: mention.text.clone(),
                }],
                None,
                to_millis(now),
            )?;
        }
        for contest in desk.plan.contests.iter().filter(|c| &c.account == account) {
            // As when read: posts from before the announcement are not entries.
            if mention.created_at < contest.announce_at.with_timezone(&Utc) {
                continue;
            }
            pushed.contest_entries += crate::contest::lifecycle::add_entries(
                store,
                contest,
                vec![Entry::from_mention(network, mention)],
                now,
            )?;
        }
    }
    Ok(pushed)
}

/// Why an update a network pushed was not taken.
#[derive(Debug, thiserror::Error)]
pub enum UpdateRefusal {
    #[error("unknown account `{0}`")]
    UnknownAccount(String),
    #[error("account `{account}`: {error}")]
    Refused {
        account: String,
        error: PushedUpdateError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UpdateRefusal {
    /// The HTTP status a server answers it with.
    pub fn status(&self) -> u16 {
        match self {
            UpdateRefusal::UnknownAccount(_) => 404,
            UpdateRefusal::Refused { error, .. } => match error {
                PushedUpdateError::NotPushed => 404,
                PushedUpdateError::BadToken => 401,
                PushedUpdateError::NotAnUpdate { .. } => 400,
                PushedUpdateError::Network(_) => 503,
            },
            UpdateRefusal::Store(_) => 503,
        }
    }
}

/// An update the network pushed for `account` (Telegram with `updates: webhook`; the
/// header `X-Telegram-Bot-Api-Secret-Token` is `token`): checked by the account's
/// connector, and, when it mentions or answers the bot, stored as a pushed mention is.
pub async fn receive_update(
    desk: &Desk,
    connectors: &Connectors,
    account: &str,
    token: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Pushed, UpdateRefusal> {
    Ok(
        receive_update_read(desk, connectors, account, token, body, now)
            .await?
            .0,
    )
}

/// [`receive_update`], answering also the message it read (for replies to notices).
pub async fn receive_update_read(
    desk: &Desk,
    connectors: &Connectors,
    account: &str,
    token: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(Pushed, Option<Mention>), UpdateRefusal> {
    let (Some(connector), Some(plan_account)) =
        (connectors.get(account), desk.plan.accounts.get(account))
    else {
        return Err(UpdateRefusal::UnknownAccount(account.to_string()));
    };
    let mention = connector
        .pushed_update(token, body)
        .await
        .map_err(|error| UpdateRefusal::Refused {
            account: account.to_string(),
            error,
        })?;
    let checked: Vec<_> = mention
        .iter()
        .map(|mention| {
            (
                account.to_string(),
                plan_account.network.name(),
                mention.clone(),
            )
        })
        .collect();
    Ok((store_mentions(desk, &checked, now)?, mention))
}

/// One event as a mention to an account of the plan: (account, network, mention).
fn check(
    desk: &Desk,
    index: usize,
    event: &RehearsalEvent,
) -> Result<(String, &'static str, Mention), PushRefusal> {
    let invalid = |reason: String| PushRefusal::Invalid { index, reason };
    if !matches!(event.kind, EventKind::Mention | EventKind::Reply) {
        return Err(invalid(
            "only `mention` and `reply` events can be pushed".into(),
        ));
    }
    let account = event
        .account
        .as_deref()
        .ok_or_else(|| invalid("`account` is missing: which account is mentioned".into()))?;
    let Some(plan_account) = desk.plan.accounts.get(account) else {
        let hint = super::suggestion(account, desk.plan.accounts.keys())
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        return Err(invalid(format!("unknown account `{account}`{hint}")));
    };
    let id = event
        .id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| invalid("`id` is missing: the network's id of the post".into()))?;
    let author = event
        .author
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| invalid("`author` is missing".into()))?;
    let at = event.at.with_timezone(&Utc);
    let created_at = event.author_created().map_err(invalid)?;
    let mention = Mention {
        id: id.to_string(),
        author: Author {
            id: author.to_string(),
            handle: author.to_string(),
            display_name: None,
            followers: event.followers,
            created_at,
            follows_account: event.follows_us,
            bot: None,
        },
        text: event.text.clone().unwrap_or_default(),
        created_at: at,
        in_reply_to: event.in_reply_to.clone(),
        url: None,
        edited_at: None,
    };
    Ok((account.to_string(), plan_account.network.name(), mention))
}
