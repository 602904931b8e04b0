//! Feeding a crisis plan under test: mentions stored as `crier run`'s polling stores them.

use crier::store::{NewMention, Store};

/// Stores one negative mention of `acme` for plan `outage`, read from `account` at `at`
/// (milliseconds).
pub fn negative_mention(store: &dyn Store, account: &str, at: i64) {
    let mention = NewMention {
        key: "console:1".into(),
        at,
        author: "@fan".into(),
        text: "acme is down, terrible".into(),
    };
    store
        .add_crisis_mentions("outage", account, &[mention], None, at)
        .unwrap();
}
