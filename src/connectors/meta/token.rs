//! Meta's long-lived tokens, renewed before they expire. A token in a `file:` secret written as
//! a token set is renewed by the Graph client (`graph.rs`) once it expires within
//! [`RENEW_BEFORE`], and the renewed set is written back to the file atomically, owner-only
//! (`oauth::write_secret_json`):
//!
//! - Facebook and Instagram (a long-lived user token from Facebook Login): exchanged for a new
//!   long-lived one (`GET /oauth/access_token?grant_type=fb_exchange_token`, with the app's
//!   `client_id` and `client_secret`); a Facebook Page's token is then read with the new user
//!   token (`GET /{page}?fields=access_token`), and the Page's calls send the Page token.
//! - Threads: `GET /refresh_access_token?grant_type=th_refresh_token` with the token itself.
//!
//! ```json
//! {"access_token": "EAAG…", "expires_at": "2027-02-01T09:00:00Z", "page_token": "EAAG…"}
//! ```
//!
//! `expires_in` (seconds, from the file's modification time) may stand for `expires_at` in a
//! file written by hand. A Facebook or Instagram token in a `file:` without an expiry (pasted
//! bare) is looked up once, before its first use, with `GET /debug_token` as the app: its
//! `expires_at` (0: it never expires, `never_expires` in the file) and
//! `data_access_expires_at` are written into the file, and it is renewed as above when due; a
//! Facebook account whose pasted token turns out to be a user token gets its Page's token
//! beside it. Threads cannot be asked when a token expires: a Threads token in a `file:`
//! without an expiry is at least as old as the file, so the file's modification time is
//! written beside it as `seen_at` before its first use, and it is refreshed once a day has
//! passed since (Threads refreshes only tokens at least a day old), which gives it its
//! `expires_at`. A token in `env:`, or a Facebook or Instagram one whose account lacks the
//! app's id and secret, is sent as it is and never renewed.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::connectors::oauth::modified;
use crate::connectors::secret::Secret;

/// How long before it expires a long-lived token (60 days) is renewed: Threads renews only
/// tokens at least a day old, and a week leaves room for a renewal that fails for a while.
pub const RENEW_BEFORE: TimeDelta = TimeDelta::days(7);

/// How old a Threads token must be before Threads refreshes it.
pub const THREADS_REFRESHABLE_AFTER: TimeDelta = TimeDelta::hours(24);

/// A long-lived token as the secret file keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongLived {
    /// The long-lived user token (Facebook, Instagram) or Threads token.
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds from the file's modification time; only read, as `expires_at`.
    #[serde(default, skip_serializing)]
    pub expires_in: Option<i64>,
    /// Facebook: the Page's token, read with the user token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// Meta said (`debug_token`) the token never expires, as a Page token made from a
    /// long-lived user token does: it is never renewed, and never asked about again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_expires: bool,
    /// When the token stops reading people's data, whatever its expiry (Meta's
    /// `data_access_expires_at`): after it, the person signs in again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_access_expires_at: Option<DateTime<Utc>>,
    /// Threads, a token whose expiry is not known: when crier first found it (the file's
    /// modification time then); it is refreshed once [`THREADS_REFRESHABLE_AFTER`] has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for LongLived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongLived")
            .field("access_token", &"***")
            .field("expires_at", &self.expires_at)
            .field("page_token", &self.page_token.as_ref().map(|_| "***"))
            .field("data_access_expires_at", &self.data_access_expires_at)
            .field("seen_at", &self.seen_at)
            .finish()
    }
}

impl LongLived {
    /// `access_token`, nothing yet known about it.
    pub fn new(access_token: String) -> LongLived {
        LongLived {
            access_token,
            expires_at: None,
            expires_in: None,
            page_token: None,
            never_expires: false,
            data_access_expires_at: None,
            seen_at: None,
        }
    }

    /// Whether Meta has not been asked yet when the token expires.
    pub fn expiry_unknown(&self) -> bool {
        self.expires_at.is_none() && !self.never_expires
    }

    /// A secret's value: the JSON token set, or a bare token. `issued` is when a relative
    /// `expires_in` counts from.
    pub fn parse(value: &str, issued: Option<DateTime<Utc>>) -> Result<LongLived, String> {
        crate::connectors::oauth::parse_token_file(value, issued)
    }

    /// Whether it is time to renew: a week before it expires, or, its expiry unknown, a day
    /// after it was first seen.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        match self.expires_at {
            Some(expires) => expires - RENEW_BEFORE <= now,
            None => {
                !self.never_expires
                    && self
                        .seen_at
                        .is_some_and(|seen| seen + THREADS_REFRESHABLE_AFTER <= now)
            }
        }
    }
}

impl crate::connectors::oauth::TokenFile for LongLived {
    const FIELDS: &'static str = "`access_token` and `expires_at`";

    fn bare(access_token: String) -> LongLived {
        LongLived::new(access_token)
    }

    fn access_token(&self) -> &str {
        &self.access_token
    }

    fn expiry(&mut self) -> (&mut Option<DateTime<Utc>>, Option<i64>) {
        (&mut self.expires_at, self.expires_in)
    }
}

/// How an account's token is renewed.
#[derive(Debug, Clone)]
pub enum Renewal {
    /// `fb_exchange_token` with the app's id and secret; `page`, for a Facebook Page, whose
    /// token is read again with the new user token.
    Exchange {
        client_id: String,
        client_secret: Secret,
        page: Option<String>,
    },
    /// `th_refresh_token`.
    Threads,
}

/// An account's Graph token: sent as it is, or renewed and written back.
#[derive(Debug)]
pub struct GraphToken {
    pub(super) account: String,
    pub(super) current: tokio::sync::Mutex<LongLived>,
    /// The `file:` secret the token came from, written back after each renewal; with
    /// `renewal`, `None` for a token that is never renewed.
    pub(super) renewed: Option<(PathBuf, Renewal)>,
    /// The app's id and secret, when the account has them: `debug_token` is asked as the app.
    pub(super) app: Option<(String, Secret)>,
}

impl GraphToken {
    /// A token sent as it is.
    pub fn fixed(token: Secret) -> GraphToken {
        GraphToken {
            account: String::new(),
            current: tokio::sync::Mutex::new(LongLived::new(token.expose().to_owned())),
            renewed: None,
            app: None,
        }
    }

    /// The token of account `account` from its secret `reference` (`file:PATH` or `env:NAME`)
    /// whose value is `value`. One with an expiry is renewed as `renewal` says, and must be in
    /// a `file:` secret (where the renewed one is written); `renewal` is `Err(why)` when the
    /// account lacks what renewing needs.
    pub fn from_secret(
        account: &str,
        reference: &str,
        value: &Secret,
        renewal: Result<Renewal, String>,
    ) -> Result<GraphToken, String> {
        let file = reference
            .strip_prefix("file:")
            .map(|path| PathBuf::from(path.trim()));
        let issued = file.as_deref().and_then(modified);
        let set = LongLived::parse(value.expose(), issued)?;
        let app = match &renewal {
            Ok(Renewal::Exchange {
                client_id,
                client_secret,
                ..
            }) => Some((client_id.clone(), client_secret.clone())),
            _ => None,
        };
        let renewed = match (set.expires_at, file) {
            (Some(_), None) => {
                return Err(
                    "a token set with `expires_at` must be in a `file:` secret, where crier writes the renewed token".into(),
                );
            }
            (Some(_), Some(file)) => Some((file, renewal?)),
            // Facebook and Instagram: Meta is asked once (`debug_token`, as the app) when it
            // expires; Threads: refreshed a day after it was first seen.
            (None, Some(file)) if set.expiry_unknown() => renewal.ok().map(|r| (file, r)),
            (None, _) => None,
        };
        Ok(GraphToken {
            account: account.to_owned(),
            current: tokio::sync::Mutex::new(set),
            renewed,
            app,
        })
    }

    /// The token set in the file now, if it reads.
    pub(super) fn stored(&self) -> Option<LongLived> {
        let (file, _) = self.renewed.as_ref()?;
        let text = std::fs::read_to_string(file).ok()?;
        LongLived::parse(&text, modified(file)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_token_is_never_due_and_expires_in_counts_from_the_file() {
        let bare = LongLived::parse("EAAG-bare\n", None).unwrap();
        assert_eq!(bare.access_token, "EAAG-bare");
        assert!(!bare.due(Utc::now() + TimeDelta::days(400)));
        let issued = Utc::now() - TimeDelta::days(55);
        let set = LongLived::parse(
            r#"{"access_token":"EAAG-1","expires_in":5184000}"#,
            Some(issued),
        )
        .unwrap();
        assert_eq!(set.expires_at, Some(issued + TimeDelta::days(60)));
        assert!(set.due(Utc::now()), "five days left: renewed");
        assert!(!set.due(issued));
        assert!(!format!("{set:?}").contains("EAAG-1"));
    }

    #[test]
    fn a_token_without_an_expiry_is_due_a_day_after_it_was_first_seen() {
        let now = Utc::now();
        let mut seen = LongLived::new("THAA-pasted".into());
        seen.seen_at = Some(now - TimeDelta::hours(23));
        assert!(!seen.due(now));
        assert!(seen.due(now + TimeDelta::hours(1)));
        seen.never_expires = true;
        assert!(!seen.due(now + TimeDelta::days(30)));
        let text = serde_json::to_string(&LongLived {
            never_expires: false,
            ..seen
        })
        .unwrap();
        let back = LongLived::parse(&text, None).unwrap();
        assert_eq!(back.seen_at, Some(now - TimeDelta::hours(23)));
    }

    #[test]
    fn a_token_with_an_expiry_wants_a_file_and_what_renews_it() {
        let value = Secret::new(r#"{"access_token":"t","expires_at":"2027-01-01T00:00:00Z"}"#);
        let err = GraphToken::from_secret("a", "env:T", &value, Ok(Renewal::Threads)).unwrap_err();
        assert!(err.contains("must be in a `file:` secret"), "{err}");
        let err =
            GraphToken::from_secret("a", "file:t.json", &value, Err("add `client_id`".into()))
                .unwrap_err();
        assert_eq!(err, "add `client_id`");
        let bare = Secret::new("EAAG-bare");
        assert!(
            GraphToken::from_secret("a", "env:T", &bare, Err("unused".into()))
                .unwrap()
                .renewed
                .is_none()
        );
    }
}
