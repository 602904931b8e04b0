//! The one Graph API client of Meta's networks (`graph.facebook.com/vNN` for Facebook Pages
//! and Instagram,
//! `graph.threads.net/v1.0` for Threads): calls with the token in the `Authorization`
//! header (never in a URL), Meta's error envelope classified, and the usage headers read as
//! rate-limit signals.
//!
//! Errors are `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
//! Throttling is codes 4 (the app), 17 (the user), 32 (a Page), 613 and 80001–80014 (a
//! business use case); `X-Business-Use-Case-Usage` says how many minutes until access
//! returns (`estimated_time_to_regain_access`), `X-App-Usage` how close the app is to its
//! hourly limit (percentages). Once either reaches 100 %, crier waits before the next call
//! instead of spending one on a refusal.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};
use crate::connectors::oauth::modified;
use crate::connectors::secret::Secret;

use super::token::{GraphToken, LongLived, Renewal};

/// How long to wait when throttled and no header says (the app limit's window is an hour).
const DEFAULT_WAIT: Duration = Duration::from_secs(15 * 60);
/// The usage, in percent, at which Meta refuses calls.
const FULL: f64 = 100.0;

/// Graph error codes crier treats apart.
pub mod code {
    /// The token expired, was revoked, or the password changed.
    pub const TOKEN: i64 = 190;
    pub const APP_RATE: i64 = 4;
    pub const USER_RATE: i64 = 17;
    pub const PAGE_RATE: i64 = 32;
    pub const CALL_RATE: i64 = 613;
    /// Permission missing (10, 200–299).
    pub const PERMISSION: i64 = 10;
    /// "Action is invalid": Instagram's media not ready (subcode 2207027), or a limit.
    pub const INVALID_ACTION: i64 = 9;
    /// The Instagram media is not ready to publish yet.
    pub const MEDIA_NOT_READY: i64 = 9007;
}

/// Instagram: the content-publishing limit of the last 24 hours is reached.
const PUBLISHING_LIMIT_SUBCODE: i64 = 2_207_042;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

/// A Graph API account: the server with its pinned version, the token, and when Meta's
/// usage headers last said to hold off.
#[derive(Debug)]
pub struct Graph {
    server: Url,
    token: GraphToken,
    client: reqwest::Client,
    /// The network as messages name it: `Instagram`.
    pub title: &'static str,
    /// Where the README says how to get a new token.
    pub help: &'static str,
    hold_until: Mutex<Option<(DateTime<Utc>, String)>>,
}

impl Graph {
    pub fn new(
        server: Url,
        token: Secret,
        client: reqwest::Client,
        title: &'static str,
        help: &'static str,
    ) -> Graph {
        Self::with_token(server, GraphToken::fixed(token), client, title, help)
    }

    /// A client whose token may be renewed (see `token.rs`).
    pub fn with_token(
        server: Url,
        token: GraphToken,
        client: reqwest::Client,
        title: &'static str,
        help: &'static str,
    ) -> Graph {
        Graph {
            server,
            token,
            client,
            title,
            help,
            hold_until: Mutex::new(None),
        }
    }

    fn url(&self, path: &[&str]) -> Url {
        http::with_path(&self.server, path)
    }

    /// Calls `path` with `params` (a query for GET, a form otherwise); the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        params: &[(&str, String)],
        action: &str,
    ) -> Result<T, SendError> {
        let request = self.request(method.clone(), path).await?;
        let request = if method == Method::GET {
            request.query(params)
        } else {
            request.form(params)
        };
        self.send(request, action).await
    }

    /// `POST path` with a multipart `form` (an upload); the answer as `T`.
    pub async fn upload<T: DeserializeOwned>(
        &self,
        path: &[&str],
        form: reqwest::multipart::Form,
        action: &str,
    ) -> Result<T, SendError> {
        let request = self.request(Method::POST, path).await?.multipart(form);
        self.send(request, action).await
    }

    /// A request with the token (renewed first when due), unless the usage headers said to
    /// hold off.
    async fn request(
        &self,
        method: Method,
        path: &[&str],
    ) -> Result<reqwest::RequestBuilder, SendError> {
        let now = Utc::now();
        if let Some((until, why)) = self.hold(now) {
            return Err(SendError::RetryAfter {
                after: (until - now).to_std().unwrap_or(Duration::ZERO),
                reason: format!(
                    "{} usage is at its limit ({why}): crier waits before calling again",
                    self.title
                ),
            });
        }
        let bearer = self.bearer().await?;
        Ok(self
            .client
            .request(method, self.url(path))
            .bearer_auth(bearer.expose()))
    }

    /// The token to send now: the Page's token where the account has one, else the
    /// long-lived token; renewed first when it is due.
    async fn bearer(&self) -> Result<Secret, SendError> {
        let mut current = self.token.current.lock().await;
        if let Some((file, renewal)) = &self.token.renewed {
            if current.expiry_unknown() {
                self.ask_expiry(&mut current, file, renewal).await?;
            }
            if current.due(Utc::now()) {
                self.renew(&mut current, file, renewal).await?;
            }
        }
        Ok(Secret::new(
            current
                .page_token
                .clone()
                .unwrap_or_else(|| current.access_token.clone()),
        ))
    }

    /// Asks Meta when `current` expires (`GET /debug_token`, as the app), records the answer
    /// in `file`, and for a Facebook Page whose token turns out to be a user token reads the
    /// Page's token with it. Threads cannot be asked: when the token was first seen is
    /// recorded instead.
    async fn ask_expiry(
        &self,
        current: &mut LongLived,
        file: &std::path::Path,
        renewal: &Renewal,
    ) -> Result<(), SendError> {
        let Renewal::Exchange {
            client_id,
            client_secret,
            page,
        } = renewal
        else {
            return self.note_seen(current, file);
        };
        // Another crier process sharing the file may have asked already.
        if let Some(stored) = self.token.stored()
            && stored.access_token == current.access_token
            && !stored.expiry_unknown()
        {
            *current = stored;
            return Ok(());
        }
        let (title, account) = (self.title, &self.token.account);
        let refused = |said: &str| {
            format!(
                "{title} would not say when the token of account `{account}` in `{}` expires ({said}); check the app's `client_id` and `client_secret`, or get a new token ({})",
                file.display(),
                self.help
            )
        };
        let data = self
            .debug_token(&current.access_token, client_id, client_secret, &refused)
            .await?;
        if !data.is_valid {
            return Err(SendError::Permanent {
                reason: format!(
                    "{title} says the token of account `{account}` in `{}` is no longer valid (expired, or the person removed the app); get a new one ({}) and write it there",
                    file.display(),
                    self.help
                ),
            });
        }
        let mut next = current.clone();
        next.expires_at = unix_time(data.expires_at);
        next.never_expires = next.expires_at.is_none();
        next.data_access_expires_at = unix_time(data.data_access_expires_at);
        if let Some(page) = page
            && data.kind.as_deref() == Some("USER")
            && next.page_token.is_none()
        {
            next.page_token = Some(self.page_token(&next.access_token, page, &refused).await?);
        }
        crate::connectors::oauth::write_secret_json(file, &next).map_err(|err| {
            SendError::Permanent {
                reason: format!(
                    "{title} said when the token of account `{account}` expires, but crier could not write it to `{}`: {err}",
                    file.display()
                ),
            }
        })?;
        *current = next;
        Ok(())
    }

    /// What Meta says of `token` (`GET /debug_token`, as the app); a refusal is said by
    /// `refused`.
    async fn debug_token(
        &self,
        token: &str,
        client_id: &str,
        client_secret: &Secret,
        refused: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<TokenInfo, SendError> {
        let request = self
            .client
            .get(self.url(&["debug_token"]))
            .query(&[("input_token", token)])
            .bearer_auth(format!("{client_id}|{}", client_secret.expose()));
        let Debugged { data } = self
            .renewal_call(request, "the token's lookup", refused)
            .await?;
        Ok(data)
    }

    /// When the token sent stops reading people's data (`data_access_expires_at`): asked of
    /// Meta (`debug_token`, as the app) when the account has the app's id and secret, else as
    /// its secret file recorded it, if it did.
    pub async fn data_access_expires_at(&self) -> Result<Option<DateTime<Utc>>, SendError> {
        let (token, recorded) = {
            let current = self.token.current.lock().await;
            (
                current
                    .page_token
                    .clone()
                    .unwrap_or_else(|| current.access_token.clone()),
                current.data_access_expires_at,
            )
        };
        let Some((client_id, client_secret)) = &self.token.app else {
            return Ok(recorded);
        };
        let (title, account) = (self.title, &self.token.account);
        let refused = |said: &str| {
            format!(
                "{title} would not say until when the token of account `{account}` reads people's data ({said}); check the app's `client_id` and `client_secret`"
            )
        };
        let data = self
            .debug_token(&token, client_id, client_secret, &refused)
            .await?;
        if !data.is_valid {
            return Ok(recorded);
        }
        let fresh = unix_time(data.data_access_expires_at);
        if fresh.is_some() {
            self.token.current.lock().await.data_access_expires_at = fresh;
        }
        Ok(fresh.or(recorded))
    }

    /// Records in `file` when a token of unknown expiry was first seen: the file's
    /// modification time, since the token is at least as old as the file it was pasted in.
    /// Written rather than read from the file each time, so that a file touched again later
    /// does not put the refresh off until the token has expired.
    fn note_seen(&self, current: &mut LongLived, file: &std::path::Path) -> Result<(), SendError> {
        if current.seen_at.is_some() {
            return Ok(());
        }
        // Another crier process sharing the file may have recorded it, or refreshed it.
        if let Some(stored) = self.token.stored()
            && (stored.access_token != current.access_token || stored.seen_at.is_some())
        {
            *current = stored;
            if current.seen_at.is_some() || !current.expiry_unknown() {
                return Ok(());
            }
        }
        let now = Utc::now();
        let mut next = current.clone();
        next.seen_at = Some(modified(file).map_or(now, |at| at.min(now)));
        crate::connectors::oauth::write_secret_json(file, &next).map_err(|err| {
            SendError::Permanent {
                reason: format!(
                    "{} cannot say when the token of account `{}` expires, so crier records beside it when it first saw it, to refresh it a day later; it could not write `{}`: {err}",
                    self.title,
                    self.token.account,
                    file.display()
                ),
            }
        })?;
        *current = next;
        Ok(())
    }

    /// The token of the Facebook Page `page`, read with the user token `user_token`.
    async fn page_token(
        &self,
        user_token: &str,
        page: &str,
        lapsed: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct PageToken {
            access_token: String,
        }
        let request = self
            .client
            .get(self.url(&[page]))
            .query(&[("fields", "access_token")])
            .bearer_auth(user_token);
        let found: PageToken = self
            .renewal_call(request, "reading the Page's token", lapsed)
            .await?;
        Ok(found.access_token)
    }

    /// Renews `current` as `renewal` says and writes it to `file`.
    async fn renew(
        &self,
        current: &mut LongLived,
        file: &std::path::Path,
        renewal: &Renewal,
    ) -> Result<(), SendError> {
        // Another crier process sharing the file may have renewed it already.
        if let Some(stored) = self.token.stored()
            && stored.access_token != current.access_token
            && !stored.due(Utc::now())
        {
            *current = stored;
            return Ok(());
        }
        let title = self.title;
        let account = &self.token.account;
        let lapsed = |said: &str| {
            format!(
                "{title} would not renew the long-lived token of account `{account}` ({said}): it has expired or was revoked; get a new one ({}) and write it to `{}`",
                self.help,
                file.display()
            )
        };
        #[derive(Deserialize)]
        struct Renewed {
            access_token: String,
            #[serde(default)]
            expires_in: Option<i64>,
        }
        let (url, params) = match renewal {
            Renewal::Exchange {
                client_id,
                client_secret,
                ..
            } => (
                self.url(&["oauth", "access_token"]),
                vec![
                    ("grant_type", "fb_exchange_token".to_owned()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.expose().to_owned()),
                    ("fb_exchange_token", current.access_token.clone()),
                ],
            ),
            Renewal::Threads => {
                let mut url = self.server.clone();
                url.set_path("/refresh_access_token");
                (
                    url,
                    vec![
                        ("grant_type", "th_refresh_token".to_owned()),
                        ("access_token", current.access_token.clone()),
                    ],
                )
            }
        };
        let renewed: Renewed = self
            .renewal_call(
                self.client.get(url).query(&params),
                "the token's renewal",
                &lapsed,
            )
            .await?;
        let mut next = LongLived::new(renewed.access_token);
        next.expires_at = renewed
            .expires_in
            .map(|seconds| Utc::now() + TimeDelta::seconds(seconds));
        next.data_access_expires_at = current.data_access_expires_at;
        if let Renewal::Exchange {
            page: Some(page), ..
        } = renewal
        {
            next.page_token = Some(self.page_token(&next.access_token, page, &lapsed).await?);
        }
        crate::connectors::oauth::write_secret_json(file, &next).map_err(|err| {
            SendError::Permanent {
                reason: format!(
                    "{title} renewed the token of account `{account}`, but crier could not write it to `{}`: {err}; the renewed token works until this process ends, then write a new one ({})",
                    file.display(),
                    self.help
                ),
            }
        })?;
        *current = next;
        Ok(())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        action: &str,
    ) -> Result<T, SendError> {
        let reply = http::fetch(request).await?;
        self.note_usage(&reply.headers, Utc::now());
        if !reply.status.is_success() {
            return Err(self.refusal(&reply, action, Utc::now()));
        }
        serde_json::from_str(&reply.body).map_err(|_| SendError::OutcomeUnknown {
            reason: format!(
                "{} accepted {action} but its answer could not be read",
                self.title
            ),
        })
    }

    /// A call of the renewal: nothing it does can post, so an unknown outcome is retried; a
    /// refusal is said by `lapsed` with Meta's code and message.
    async fn renewal_call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        action: &str,
        lapsed: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<T, SendError> {
        let transient = |err: SendError| match err {
            SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
            other => other,
        };
        let reply = http::fetch(request).await.map_err(transient)?;
        self.note_usage(&reply.headers, Utc::now());
        if !reply.status.is_success() {
            return Err(match self.refusal(&reply, action, Utc::now()) {
                SendError::Permanent { .. } => {
                    let said = serde_json::from_str::<ErrorEnvelope>(&reply.body)
                        .map(|e| format!("code {}: {}", e.error.code, e.error.message))
                        .unwrap_or_else(|_| http::status_text(reply.status));
                    SendError::Permanent {
                        reason: lapsed(&said),
                    }
                }
                other => transient(other),
            });
        }
        serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
            reason: format!(
                "{} answered {action} with something crier cannot read",
                self.title
            ),
        })
    }

    fn hold(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
        let mut hold = self.hold_until.lock().unwrap_or_else(|e| e.into_inner());
        match &*hold {
            Some((until, _)) if *until > now => hold.clone(),
            _ => {
                *hold = None;
                None
            }
        }
    }

    /// Holds calls off when a usage header says the limit is reached.
    fn note_usage(&self, headers: &HeaderMap, now: DateTime<Utc>) {
        if let Some((after, why)) = usage_wait(headers) {
            let until = now + TimeDelta::from_std(after).unwrap_or(TimeDelta::zero());
            *self.hold_until.lock().unwrap_or_else(|e| e.into_inner()) = Some((until, why));
        }
    }

    fn refusal(&self, reply: &Reply, action: &str, now: DateTime<Utc>) -> SendError {
        let title = self.title;
        let Ok(ErrorEnvelope { error }) = serde_json::from_str(&reply.body) else {
            let classified = http::classify_status(reply.status, &reply.headers, &reply.body, now)
                .err()
                .unwrap_or(SendError::Transient {
                    reason: String::new(),
                });
            let said = http::status_text(reply.status);
            let reason = match &classified {
                SendError::RetryAfter { .. } => format!("{title} is rate limiting ({said})"),
                SendError::Transient { .. } => format!("{title} failed ({said})"),
                _ => format!("{title} refused {action} ({said})"),
            };
            return http::reworded(classified, reason);
        };
        let said = match &error.error_user_msg {
            Some(user) if !user.is_empty() => {
                format!("code {}: {} {user}", error.code, error.message)
            }
            _ => format!("code {}: {}", error.code, error.message),
        };
        match error.code {
            code::TOKEN => SendError::Permanent {
                reason: format!(
                    "{title} refused the token ({said}): it has expired or was revoked; get a new long-lived token ({}) and write it to the account's `token` secret",
                    self.help
                ),
            },
            code::APP_RATE
            | code::USER_RATE
            | code::PAGE_RATE
            | code::CALL_RATE
            | 80_001..=80_014 => {
                let after = usage_wait(&reply.headers)
                    .map(|(after, _)| after)
                    .unwrap_or(DEFAULT_WAIT);
                SendError::RetryAfter {
                    after,
                    reason: format!("{title} is rate limiting the app ({said})"),
                }
            }
            code::INVALID_ACTION if error.error_subcode == Some(PUBLISHING_LIMIT_SUBCODE) => {
                SendError::RetryAfter {
                    after: http::MAX_RETRY_AFTER,
                    reason: format!(
                        "the account has published as many posts through the API as {title} allows in 24 hours ({said}); crier tries again hourly"
                    ),
                }
            }
            code::MEDIA_NOT_READY => SendError::RetryAfter {
                after: Duration::from_secs(30),
                reason: format!("{title} is still processing the media ({said})"),
            },
            1 | 2 => SendError::Transient {
                reason: format!("{title} failed ({said})"),
            },
            code::PERMISSION | 200..=299 => SendError::Permanent {
                reason: format!(
                    "{title} refused {action}: the token lacks a permission ({said}); see {}",
                    self.help
                ),
            },
            _ if reply.status.is_server_error() => SendError::Transient {
                reason: format!("{title} failed ({said})"),
            },
            _ => SendError::Permanent {
                reason: format!("{title} refused {action} ({said})"),
            },
        }
    }
}

/// `GET /debug_token`'s answer.
#[derive(Deserialize)]
struct Debugged {
    data: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    #[serde(default)]
    is_valid: bool,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    data_access_expires_at: Option<i64>,
}

/// A time `debug_token` gives in Unix seconds, 0 meaning none.
fn unix_time(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds
        .filter(|s| *s > 0)
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// How long the usage headers say to wait, and which said so: `X-Business-Use-Case-Usage`'s
/// `estimated_time_to_regain_access` (minutes) when any of its counts is full, or
/// `X-App-Usage` at 100 %.
pub fn usage_wait(headers: &HeaderMap) -> Option<(Duration, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(value) = header("x-business-use-case-usage")
        && let Ok(usage) =
            serde_json::from_str::<std::collections::BTreeMap<String, Vec<BusinessUsage>>>(value)
    {
        for entry in usage.values().flatten() {
            let minutes = entry.estimated_time_to_regain_access.unwrap_or(0);
            if minutes > 0 || entry.full() {
                let after = if minutes > 0 {
                    Duration::from_secs(minutes * 60)
                } else {
                    DEFAULT_WAIT
                };
                return Some((
                    after.min(http::MAX_RETRY_AFTER),
                    format!("X-Business-Use-Case-Usage {value}"),
                ));
            }
        }
    }
    if let Some(value) = header("x-app-usage")
        && let Ok(usage) = serde_json::from_str::<AppUsage>(value)
        && usage.full()
    {
        return Some((DEFAULT_WAIT, format!("X-App-Usage {value}")));
    }
    None
}

#[derive(Debug, Deserialize)]
struct BusinessUsage {
    #[serde(default)]
    call_count: f64,
    #[serde(default)]
    total_cputime: f64,
    #[serde(default)]
    total_time: f64,
    #[serde(default)]
    estimated_time_to_regain_access: Option<u64>,
}

impl BusinessUsage {
    fn full(&self) -> bool {
        [self.call_count, self.total_cputime, self.total_time]
            .iter()
            .any(|v| *v >= FULL)
    }
}

#[derive(Debug, Deserialize)]
struct AppUsage {
    #[serde(default)]
    call_count: f64,
    #[serde(default)]
    total_cputime: f64,
    #[serde(default)]
    total_time: f64,
}

impl AppUsage {
    fn full(&self) -> bool {
        [self.call_count, self.total_cputime, self.total_time]
            .iter()
            .any(|v| *v >= FULL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn usage_headers_say_how_long_to_wait() {
        let buc = headers(
            "x-business-use-case-usage",
            r#"{"17841400000000000":[{"type":"instagram","call_count":100,"total_cputime":12,"total_time":20,"estimated_time_to_regain_access":7}]}"#,
        );
        assert_eq!(usage_wait(&buc).unwrap().0, Duration::from_secs(7 * 60));
        let low = headers(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"pages","call_count":40,"total_cputime":1,"total_time":2,"estimated_time_to_regain_access":0}]}"#,
        );
        assert_eq!(usage_wait(&low), None);
        let app = headers(
            "x-app-usage",
            r#"{"call_count":100,"total_time":25,"total_cputime":25}"#,
        );
        assert_eq!(usage_wait(&app).unwrap().0, DEFAULT_WAIT);
        let fine = headers(
            "x-app-usage",
            r#"{"call_count":12,"total_time":5,"total_cputime":5}"#,
        );
        assert_eq!(usage_wait(&fine), None);
    }
}
