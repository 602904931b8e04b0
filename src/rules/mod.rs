//! Posting rules (`kind: rules`), the content part: what every campaign post must pass, and
//! how it is changed, at the moment its run is created. The engine (`engine::core`), and so
//! `crier rehearse`, and the preview (`crier plan`) all call [`check_post`], so what a plan
//! shows is what the engine does.
//!
//! For each account a post goes to, the rule sets that apply to it (`applies_to: all`, or
//! naming the account or the post's campaign) are applied in playbook order:
//!
//! 1. `append:` texts are appended verbatim (the playbook writes the separator, `" #tag"`);
//!    an append the text already ends with is not added again.
//! 2. `deny_words:` are looked for in that text: case-insensitive, whole words, Unicode-aware.
//! 3. `utm:` parameters are added to every `http(s)` link; a parameter a link already has
//!    is kept as it is, and the first rule set to set one wins.
//! 4. `require:` conditions are evaluated on the final text, per account (they see the
//!    account and its network).
//! 5. The final text must fit the network's limit, counted the way the network counts
//!    (both from the network table, `network`).
//!
//! A post breaking any of these is rejected as a whole, even when only one of its accounts
//! is concerned (the reason names the account): a run is one decision, and posting a
//! campaign message to some accounts only is rarely what a team wants. A post no rule set
//! applies to is left exactly as it is.

use std::fmt;
use std::sync::LazyLock;

use chrono::DateTime;
use chrono_tz::Tz;
use regex::Regex;
use serde_json::json;

use crate::network::Network;
use crate::playbook::plan::{Plan, RulesPlan};
use crate::script::{ConditionInput, ScriptEngine};
use crate::text::{Renderer, Stopped};

pub mod limits;
pub mod windows;

pub use windows::{Hold, hold};

/// Why a post is rejected: the rule set and what broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The rule set's name.
    pub rule: String,
    /// What broke it, naming the word, the condition, or the count and the limit.
    pub problem: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected by rules `{}`: {}", self.rule, self.problem)
    }
}

/// The text going to some of a post's accounts (accounts that get the same text share one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub accounts: Vec<String>,
    pub text: String,
    /// The rule sets that changed the text (empty when unchanged).
    pub changed_by: Vec<String>,
}

/// The rule sets that apply to a post of `campaign` to `account`, in playbook order.
pub fn applicable<'a>(rules: &'a [RulesPlan], campaign: &str, account: &str) -> Vec<&'a RulesPlan> {
    rules
        .iter()
        .filter(|r| {
            r.applies_to.is_empty()
                || r.applies_to
                    .iter()
                    .any(|name| name == campaign || name == account)
        })
        .collect()
}

/// The first of `words` that occurs in `text` as a whole word, ignoring case.
pub fn denied_word<'a>(text: &str, words: &'a [String]) -> Option<&'a str> {
    let lower = text.to_lowercase();
    words
        .iter()
        .find(|word| contains_word(&lower, &word.trim().to_lowercase()))
        .map(String::as_str)
}

/// Whether lowercase `text` holds lowercase `word` with no letter, digit or `_` right
/// before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, found)| {
        let before = text[..at].chars().next_back();
        let after = text[at + found.len()..].chars().next();
        // A word that itself starts (ends) with punctuation, `#ad`, needs no boundary there.
        let first = word.chars().next().is_some_and(is_word);
        let last = word.chars().next_back().is_some_and(is_word);
        let joined_before = first && before.is_some_and(is_word);
        let joined_after = last && after.is_some_and(is_word);
        !joined_before && !joined_after
    })
}

/// `text` with `append` added, unless it already ends with it.
pub fn append(text: &str, append: &str) -> String {
    let tail = append.trim();
    if tail.is_empty() || text.trim_end().ends_with(tail) {
        text.to_string()
    } else {
        format!("{text}{append}")
    }
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bhttps?://[^\s<>\x22]+").expect("the URL pattern compiles"));

/// The `http(s)` links of `text`, as byte ranges: up to whitespace, without trailing
/// punctuation (or a closing parenthesis the link did not open), with a host.
pub fn links(text: &str) -> Vec<std::ops::Range<usize>> {
    URL.find_iter(text)
        .filter_map(|found| {
            let mut url = found.as_str();
            loop {
                let trimmed = url.trim_end_matches(['.', ',', ':', ';', '!', '?', '\'']);
                let trimmed = match trimmed.strip_suffix(')') {
                    Some(inner) if !inner.contains('(') => inner,
                    _ => trimmed,
                };
                if trimmed.len() == url.len() {
                    break;
                }
                url = trimmed;
            }
            let host = url.split_once("://").map_or("", |(_, rest)| rest);
            host.chars()
                .next()
                .is_some_and(char::is_alphanumeric)
                .then(|| found.start()..found.start() + url.len())
        })
        .collect()
}

/// `text` with the `utm_*` parameters (`source` → `utm_source`) added to every link that
/// does not have them yet; existing query strings and fragments are kept.
pub fn add_utm(text: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in links(text) {
        out.push_str(&text[last..range.start]);
        out.push_str(&link_with_utm(&text[range.clone()], params));
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

fn link_with_utm(link: &str, params: &[(String, String)]) -> String {
    let (before_fragment, fragment) = match link.find('#') {
        Some(at) => link.split_at(at),
        None => (link, ""),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let present: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .map(str::to_ascii_lowercase)
        .collect();
    let added: Vec<String> = params
        .iter()
        .map(|(key, value)| (format!("utm_{key}"), value))
        .filter(|(key, _)| !present.contains(key))
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if added.is_empty() {
        return link.to_string();
    }
    let mut query = query.unwrap_or("").to_string();
    if !query.is_empty() && !query.ends_with('&') {
        query.push('&');
    }
    query.push_str(&added.join("&"));
    format!("{base}?{query}{fragment}")
}

/// Percent-encodes a query value (unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Applies the content rules to a post of `campaign` with rendered `text` to `accounts` at
/// `at` (the fire time, in the campaign's time zone): the text each account gets, or why
/// the post is rejected. See the module documentation for the order. `Stopped` when a stop
/// was requested while a `utm:` value was being rendered (under `crier run`).
pub fn check_post(
    plan: &Plan,
    scripts: &ScriptEngine,
    texts: Renderer<'_>,
    campaign: &str,
    accounts: &[String],
    text: &str,
    at: DateTime<Tz>,
) -> Result<Result<Vec<Version>, Rejection>, Stopped> {
    let mut versions: Vec<Version> = Vec::new();
    for account in accounts {
        let sets = applicable(&plan.rules, campaign, account);
        let network = plan.accounts.get(account).map(|a| a.network);
        let (text, changed_by) = if sets.is_empty() {
            (text.to_string(), Vec::new())
        } else {
            let utm = utm_values(texts, &sets, campaign, account, network)?;
            match check_account(scripts, &sets, &utm, campaign, account, network, text, at) {
                Ok(checked) => checked,
                Err(rejection) => return Ok(Err(rejection)),
            }
        };
        match versions.iter_mut().find(|v| v.text == text) {
            Some(version) => {
                version.accounts.push(account.clone());
                for name in changed_by {
                    if !version.changed_by.contains(&name) {
                        version.changed_by.push(name);
                    }
                }
            }
            None => versions.push(Version {
                accounts: vec![account.clone()],
                text,
                changed_by,
            }),
        }
    }
    Ok(Ok(versions))
}

/// One rule set's `utm:` parameters as rendered, or why one could not be.
type UtmValues = Result<Vec<(String, String)>, Rejection>;

/// Each rule set's `utm:` parameters rendered for `account` (they see its network, the
/// account and the campaign, not the text), or the first that could not be rendered. Rendered
/// before the other rules apply, so that only rendering can be stopped; a failure still
/// rejects the post only where the UTM rule comes in the order.
fn utm_values(
    texts: Renderer<'_>,
    sets: &[&RulesPlan],
    campaign: &str,
    account: &str,
    network: Option<Network>,
) -> Result<Vec<UtmValues>, Stopped> {
    let context = serde_json::Value::Object(
        [
            (
                "network".to_string(),
                json!(network.map_or("unknown", Network::name)),
            ),
            ("account".to_string(), json!(account)),
            ("campaign".to_string(), json!(campaign)),
        ]
        .into_iter()
        .collect(),
    );
    let mut values = Vec::with_capacity(sets.len());
    for set in sets {
        let mut params = Ok(Vec::with_capacity(set.utm.len()));
        for (key, value) in &set.utm {
            match texts.render(value, &context)? {
                Ok(value) => {
                    if let Ok(params) = &mut params {
                        params.push((key.clone(), value));
                    }
                }
                Err(error) => {
                    params = Err(Rejection {
                        rule: set.name.clone(),
                        problem: format!(
                            "the UTM `{key}` could not be rendered: {}",
                            error.message
                        ),
                    });
                    break;
                }
            }
        }
        values.push(params);
    }
    Ok(values)
}

#[allow(clippy::too_many_arguments)]
fn check_account(
    scripts: &ScriptEngine,
    sets: &[&RulesPlan],
    utm: &[UtmValues],
    campaign: &str,
    account: &str,
    network: Option<Network>,
    original: &str,
    at: DateTime<Tz>,
) -> Result<(String, Vec<String>), Rejection> {
    let mut changed_by = Vec::new();
    let mut text = original.to_string();
    for set in sets {
        if let Some(tail) = &set.append {
            let appended = append(&text, tail);
            if appended != text {
                changed_by.push(set.name.clone());
                text = appended;
            }
        }
    }
    for set in sets {
        if let Some(word) = denied_word(&text, &set.deny_words) {
            return Err(Rejection {
                rule: set.name.clone(),
                problem: format!("the word `{word}` is denied"),
            });
        }
    }
    let network_name = network.map_or("unknown", Network::name);
    for (set, params) in sets.iter().zip(utm) {
        let params = params.as_ref().map_err(Rejection::clone)?;
        let tagged = add_utm(&text, params);
        if tagged != text {
            if !changed_by.contains(&set.name) {
                changed_by.push(set.name.clone());
            }
            text = tagged;
        }
    }
    let limit = network.and_then(Network::text_limit);
    let max_chars = limit.map_or(i64::MAX, |l| l.max as i64);
    for set in sets {
        if set.require.is_empty() {
            continue;
        }
        let input = ConditionInput::new()
            .with_now(&at.with_timezone(&set.timezone))
            .with_json(
                "post",
                &json!({
                    "text": text,
                    "account": account,
                    "campaign": campaign,
                    "network": { "name": network_name, "max_chars": max_chars },
                }),
            );
        for (name, condition) in &set.require {
            let problem = match scripts.evaluate(condition, &input) {
                Ok(true) => continue,
                Ok(false) => format!("`{name}` does not hold for `{account}`"),
                Err(error) => format!(
                    "`{name}` could not be evaluated for `{account}`: {}",
                    error.message
                ),
            };
            return Err(Rejection {
                rule: set.name.clone(),
                problem,
            });
        }
    }
    if let (Some(network), Some(limit)) = (network, limit) {
        let count = network.count(&text);
        if count > limit.max {
            return Err(Rejection {
                rule: names(sets),
                problem: format!(
                    "the text is {count} {} long for `{account}` ({}), over the limit of {}",
                    limit.unit,
                    network.name(),
                    limit.max
                ),
            });
        }
    }
    Ok((text, changed_by))
}

/// The names of rule sets, as one: `a`, `b`.
fn names(sets: &[&RulesPlan]) -> String {
    let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
    names.join("`, `")
}
