//! Entries and their verdicts: every rule that can leave an entry out, in a fixed order,
//! and the first one that does is recorded with the entry. The text an entry had when
//! entries closed is the one judged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connectors::Mention;
use crate::playbook::plan::ContestPlan;
use crate::playbook::raw::EntrySource;
use crate::script::{ConditionInput, ScriptEngine};

/// One entry, as seen on its network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub network: String,
    /// The network's id of the entry's post.
    pub id: String,
    pub author_id: String,
    pub author: String,
    #[serde(default)]
    pub followers: Option<u64>,
    #[serde(default)]
    pub account_created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub follows_us: Option<bool>,
    #[serde(default)]
    pub bot: Option<bool>,
    pub text: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// A different text seen after entries closed (the text at close is the one judged).
    #[serde(default)]
    pub edited_after_close: Option<String>,
    /// Its author deleted it before entries closed (found when entries are read again at
    /// the close).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted_before_close: bool,
    /// Read again on its network right after the close (see `collect::recheck_at_close`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checked_at_close: bool,
}

impl Entry {
    /// `network:id`, the entry's name in the frozen list and the proof.
    pub fn key(&self) -> String {
        format!("{}:{}", self.network, self.id)
    }

    pub fn from_mention(network: &str, mention: &Mention) -> Entry {
        Entry {
            network: network.to_string(),
            id: mention.id.clone(),
            author_id: mention.author.id.clone(),
            author: mention.author.handle.clone(),
            followers: mention.author.followers,
            account_created: mention.author.created_at,
            follows_us: mention.author.follows_account,
            bot: mention.author.bot,
            text: mention.text.clone(),
            at: mention.created_at,
            in_reply_to: mention.in_reply_to.clone(),
            edited_after_close: None,
            deleted_before_close: false,
            checked_at_close: false,
        }
    }
}

/// Whether an entry counts, and if not, the rule that left it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub key: String,
    pub eligible: bool,
    /// The rule that excluded it: `closes`, `deleted`, `from`, `hashtag`, `exclude`, `deny_words`,
    /// `min_mentions`, a named `eligible:` rule, or `one_per`.
    pub rule: Option<String>,
    pub reason: Option<String>,
}

/// Judges `entries` (in any order) as of entries closing; the verdicts come back in the
/// order of the entries' times (then keys), which is the order of the frozen list.
/// `announcement` is the network ids of the announcement (what replies must answer).
pub fn judge(
    contest: &ContestPlan,
    scripts: &ScriptEngine,
    entries: &[Entry],
    announcement: &[String],
) -> Vec<(Entry, Verdict)> {
    let mut ordered: Vec<&Entry> = entries.iter().collect();
    ordered.sort_by_key(|e| (e.at, e.key()));
    let closes = contest.closes.with_timezone(&Utc);
    let mut authors_counted = std::collections::HashSet::new();
    ordered
        .into_iter()
        .map(|entry| {
            let excluded = exclusion(contest, scripts, entry, announcement, closes).or_else(|| {
                // One per author, per network: the first eligible entry counts.
                (contest.one_per_author
                    && !authors_counted.insert((entry.network.clone(), entry.author_id.clone())))
                .then(|| {
                    (
                        "one_per".to_string(),
                        format!("{} entered before; one entry per author", entry.author),
                    )
                })
            });
            let verdict = Verdict {
                key: entry.key(),
                eligible: excluded.is_none(),
                rule: excluded.as_ref().map(|(rule, _)| rule.clone()),
                reason: excluded.map(|(_, reason)| reason),
            };
            (entry.clone(), verdict)
        })
        .collect()
}

/// The first rule (other than one-per-author) that leaves `entry` out.
fn exclusion(
    contest: &ContestPlan,
    scripts: &ScriptEngine,
    entry: &Entry,
    announcement: &[String],
    closes: DateTime<Utc>,
) -> Option<(String, String)> {
    let out = |rule: &str, reason: String| Some((rule.to_string(), reason));
    if entry.at > closes {
        return out("closes", "arrived after entries closed".into());
    }
    if entry.deleted_before_close {
        return out(
            "deleted",
            "its author deleted it before entries closed".into(),
        );
    }
    if contest.source == EntrySource::Replies
        && !entry
            .in_reply_to
            .as_ref()
            .is_some_and(|id| announcement.contains(id))
    {
        return out("from", "not a reply to the announcement".into());
    }
    if let Some(tag) = &contest.hashtag
        && !has_hashtag(&entry.text, tag)
    {
        return out("hashtag", format!("does not carry {tag}"));
    }
    let handle = normalise_handle(&entry.author);
    if contest
        .exclude
        .iter()
        .any(|excluded| normalise_handle(excluded) == handle)
    {
        return out("exclude", format!("{} is excluded", entry.author));
    }
    if let Some(word) = crate::rules::denied_word(&entry.text, &contest.deny_words) {
        return out("deny_words", format!("contains the denied word `{word}`"));
    }
    let mentions = friends_mentioned(contest, &entry.text);
    if let Some(min) = contest.min_mentions
        && mentions < min as usize
    {
        return out(
            "min_mentions",
            format!("mentions {mentions} account(s), fewer than {min}"),
        );
    }
    if !contest.eligible.is_empty() {
        let age_days = entry
            .account_created
            .map(|created| (closes - created).num_days());
        let input = ConditionInput::new()
            .with_now(&closes.with_timezone(&contest.timezone))
            .with_json(
                "entry",
                &serde_json::json!({
                    "id": entry.id,
                    "network": entry.network,
                    "text": entry.text,
                    "at": entry.at.to_rfc3339(),
                    "mentions": mentions,
                    "author": {
                        "id": entry.author_id,
                        "handle": entry.author,
                        "followers": entry.followers.unwrap_or(0),
                        "age_days": age_days.unwrap_or(0),
                        "follows_us": entry.follows_us.unwrap_or(false),
                        "bot": entry.bot.unwrap_or(false),
                    },
                }),
            )
            .with_json("contest", &serde_json::json!({ "name": contest.name }));
        for (name, condition) in &contest.eligible {
            match scripts.evaluate(condition, &input) {
                Ok(true) => {}
                Ok(false) => {
                    return out(name, format!("`{}` is false", condition.source().trim()));
                }
                Err(error) => {
                    return out(name, format!("could not be evaluated: {}", error.message));
                }
            }
        }
    }
    None
}

fn normalise_handle(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_lowercase()
}

/// Whether `text` carries `tag` as a whole hashtag, in any case.
fn has_hashtag(text: &str, tag: &str) -> bool {
    let tag = tag.trim_start_matches('#').to_lowercase();
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | ')' | '(')
    })
    .filter_map(|word| word.strip_prefix('#'))
    .any(|word| word.to_lowercase() == tag)
}

/// How many accounts a text mentions, leaving out those in `exclude` (the brand's own
/// account, which a reply names on most networks, belongs there).
fn friends_mentioned(contest: &ContestPlan, text: &str) -> usize {
    let excluded: Vec<String> = contest
        .exclude
        .iter()
        .map(|h| normalise_handle(h))
        .collect();
    let same = |a: &str, b: &str| {
        let local = |h: &str| h.split('@').next().unwrap_or_default().to_string();
        a == b || (!(a.contains('@') && b.contains('@')) && local(a) == local(b))
    };
    mentioned_handles(text)
        .into_iter()
        .filter(|handle| !excluded.iter().any(|e| same(handle, e)))
        .count()
}

/// The distinct `@handles` a text mentions.
fn mentioned_handles(text: &str) -> Vec<String> {
    let mut handles: Vec<String> = text
        .split_whitespace()
        .filter_map(|word| word.strip_prefix('@'))
        .map(|handle| {
            handle
                .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_')
                .to_lowercase()
        })
        .filter(|handle| {
            handle
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .collect();
    handles.sort();
    handles.dedup();
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_and_mentions_are_whole_words() {
        assert!(has_hashtag("Count me in! #WarmWinter", "#warmwinter"));
        assert!(has_hashtag("#warmwinter, please", "warmwinter"));
        assert!(!has_hashtag("#warmwinters", "#warmwinter"));
        assert!(!has_hashtag("warmwinter", "#warmwinter"));
        assert_eq!(
            mentioned_handles("@ann @bo@fosstodon.org, @ann! mail@x.com @"),
            ["ann", "bo@fosstodon.org"]
        );
    }
}
