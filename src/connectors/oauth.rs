//! OAuth 2.0 user tokens that expire (X, and the networks after it): the token set kept in the
//! account's `file:` secret, refreshed with its refresh token before it expires, and written
//! back to that file atomically (a temporary file beside it, renamed over it) with owner-only
//! permissions, so a refresh token the network rotates is never lost.
//!
//! The secret file holds the token endpoint's JSON answer, with `expires_at` added once crier
//! has refreshed it:
//!
//! ```json
//! {"access_token": "…", "refresh_token": "…", "expires_at": "2026-12-04T17:00:00Z"}
//! ```
//!
//! A file written by hand may carry `expires_in` instead of `expires_at` (counted from the
//! file's modification time); a file or variable holding only the access token is used as it
//! is and never refreshed.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::SendError;
use super::http;
use super::secret::Secret;

/// How long before it expires a token is refreshed.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// An access token, the refresh token that renews it, and when it expires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds the token lasts from when it was issued; only read, as `expires_at`.
    #[serde(default, skip_serializing)]
    pub expires_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A token file's JSON shape (`TokenSet` here, Meta's `LongLived`), read by
/// [`parse_token_file`].
pub trait TokenFile: serde::de::DeserializeOwned {
    /// The file's fields, for the message when it does not read.
    const FIELDS: &'static str;
    /// A secret holding only the access token.
    fn bare(access_token: String) -> Self;
    fn access_token(&self) -> &str;
    /// `expires_at`, and the `expires_in` (seconds) that may stand for it.
    fn expiry(&mut self) -> (&mut Option<DateTime<Utc>>, Option<i64>);
}

/// Reads a secret's value: the JSON token file, or a bare access token. `issued` is when a
/// relative `expires_in` counts from (the file's modification time).
pub fn parse_token_file<T: TokenFile>(
    value: &str,
    issued: Option<DateTime<Utc>>,
) -> Result<T, String> {
    let value = value.trim();
    if !value.starts_with('{') {
        return Ok(T::bare(value.to_owned()));
    }
    let mut set: T = serde_json::from_str(value)
        .map_err(|err| format!("it is not a token set (JSON with {}): {err}", T::FIELDS))?;
    if set.access_token().trim().is_empty() {
        return Err("its `access_token` is empty".into());
    }
    let (expires_at, expires_in) = set.expiry();
    if expires_at.is_none()
        && let (Some(seconds), Some(issued)) = (expires_in, issued)
    {
        *expires_at = Some(issued + TimeDelta::seconds(seconds));
    }
    Ok(set)
}

impl TokenFile for TokenSet {
    const FIELDS: &'static str = "`access_token`, `refresh_token`, `expires_at`";

    fn bare(access_token: String) -> TokenSet {
        TokenSet {
            access_token,
            refresh_token: None,
            expires_at: None,
            expires_in: None,
            scope: None,
        }
    }

    fn access_token(&self) -> &str {
        &self.access_token
    }

    fn expiry(&mut self) -> (&mut Option<DateTime<Utc>>, Option<i64>) {
        (&mut self.expires_at, self.expires_in)
    }
}

impl TokenSet {
    /// Reads a secret's value: the JSON token set, or a bare access token. `issued` is when
    /// a relative `expires_in` counts from (the file's modification time).
    pub fn parse(value: &str, issued: Option<DateTime<Utc>>) -> Result<TokenSet, String> {
        parse_token_file(value, issued)
    }

    /// Whether it is time to refresh (it expires within `REFRESH_MARGIN`).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.is_some()
            && self
                .expires_at
                .is_some_and(|expires| expires - REFRESH_MARGIN <= now)
    }
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
struct Refreshed {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

/// How the app proves itself to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` in the form, and with a secret HTTP Basic (X, Google).
    Basic,
    /// `client_id` and `client_secret` in the form (LinkedIn).
    Body,
}

/// Where and as which app a network's tokens are refreshed.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub url: Url,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub auth: ClientAuth,
    /// The network as messages name it: `X`.
    pub title: &'static str,
    /// Where the README says how to authorize crier again, for messages.
    pub help: &'static str,
}

/// An account's user token: handed out as a bearer, refreshed when due or refused.
#[derive(Debug)]
pub struct UserToken {
    account: String,
    current: tokio::sync::Mutex<TokenSet>,
    /// The `file:` secret the token set came from, written back after each refresh.
    file: Option<PathBuf>,
    endpoint: TokenEndpoint,
    client: reqwest::Client,
}

impl UserToken {
    pub fn new(
        account: impl Into<String>,
        tokens: TokenSet,
        file: Option<PathBuf>,
        endpoint: TokenEndpoint,
        client: reqwest::Client,
    ) -> UserToken {
        UserToken {
            account: account.into(),
            current: tokio::sync::Mutex::new(tokens),
            file,
            endpoint,
            client,
        }
    }

    /// The token set of the secret `reference` (`file:PATH` or `env:NAME`) whose resolved
    /// value is `value`; the file, when it is one, to write refreshed tokens back to.
    pub fn read_secret(
        reference: &str,
        value: &Secret,
    ) -> Result<(TokenSet, Option<PathBuf>), String> {
        let file = reference
            .strip_prefix("file:")
            .map(|path| PathBuf::from(path.trim()));
        let issued = file.as_deref().and_then(modified);
        let tokens = TokenSet::parse(value.expose(), issued)?;
        if tokens.refresh_token.is_some() && file.is_none() {
            return Err(
                "a token set with a refresh token must be in a `file:` secret, where crier writes the refreshed tokens back".into(),
            );
        }
        Ok((tokens, file))
    }

    /// The access token to send now, refreshed first if it expires within `REFRESH_MARGIN`.
    pub async fn bearer(&self) -> Result<Secret, SendError> {
        let mut current = self.current.lock().await;
        if current.due(Utc::now()) {
            self.refresh_locked(&mut current).await?;
        }
        Ok(Secret::new(current.access_token.clone()))
    }

    /// After the network refused `refused`: a new access token, or why there is none. Another
    /// request may have refreshed meanwhile, in which case its token is returned.
    pub async fn refresh_after_refusal(&self, refused: &Secret) -> Result<Secret, SendError> {
        let mut current = self.current.lock().await;
        if current.access_token != refused.expose() {
            return Ok(Secret::new(current.access_token.clone()));
        }
        if current.refresh_token.is_none() {
            return Err(SendError::Permanent {
                reason: format!(
                    "{} refused the access token of account `{}`: it has expired or was revoked, and the secret holds no refresh token; authorize crier again ({})",
                    self.endpoint.title, self.account, self.endpoint.help
                ),
            });
        }
        self.refresh_locked(&mut current).await?;
        Ok(Secret::new(current.access_token.clone()))
    }

    async fn refresh_locked(&self, current: &mut TokenSet) -> Result<(), SendError> {
        // Another crier process sharing the file may have refreshed (and so rotated the
        // refresh token) already: take its tokens rather than spend a dead refresh token.
        if let Some(stored) = self.stored()
            && stored.access_token != current.access_token
            && !stored.due(Utc::now())
        {
            *current = stored;
            return Ok(());
        }
        let refreshed = match self.request(current).await {
            Ok(refreshed) => refreshed,
            Err(err) => {
                if let Some(stored) = self.stored()
                    && stored.refresh_token != current.refresh_token
                    && stored.access_token != current.access_token
                    && !stored.due(Utc::now())
                {
                    *current = stored;
                    return Ok(());
                }
                return Err(err);
            }
        };
        let now = Utc::now();
        *current = TokenSet {
            access_token: refreshed.access_token,
            refresh_token: refreshed.refresh_token.or(current.refresh_token.take()),
            expires_at: refreshed
                .expires_in
                .map(|seconds| now + TimeDelta::seconds(seconds)),
            expires_in: None,
            scope: refreshed.scope.or(current.scope.take()),
        };
        if let Some(file) = &self.file {
            write_tokens(file, current).map_err(|err| SendError::Permanent {
                reason: format!(
                    "{} renewed the token of account `{}`, but crier could not write it to `{}`: {err}; the renewed token works until this process ends, then authorize crier again ({})",
                    self.endpoint.title,
                    self.account,
                    file.display(),
                    self.endpoint.help
                ),
            })?;
        }
        Ok(())
    }

    /// The token set in the file now, if it reads.
    fn stored(&self) -> Option<TokenSet> {
        let file = self.file.as_deref()?;
        let text = std::fs::read_to_string(file).ok()?;
        TokenSet::parse(&text, modified(file)).ok()
    }

    async fn request(&self, current: &TokenSet) -> Result<Refreshed, SendError> {
        let endpoint = &self.endpoint;
        let refresh_token = current.refresh_token.clone().unwrap_or_default();
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token),
            ("client_id", endpoint.client_id.clone()),
        ];
        let mut request = self.client.post(endpoint.url.clone());
        match (&endpoint.client_secret, endpoint.auth) {
            (Some(secret), ClientAuth::Basic) => {
                request = request.basic_auth(&endpoint.client_id, Some(secret.expose()));
            }
            (Some(secret), ClientAuth::Body) => {
                form.push(("client_secret", secret.expose().to_owned()));
            }
            (None, _) => {}
        }
        let reply = http::fetch(request.form(&form)).await.map_err(|err| {
            // A refresh that may or may not have happened is retried like any failed one.
            match err {
                SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
                other => other,
            }
        })?;
        if reply.status.is_success() {
            return serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: format!(
                    "{} answered the token refresh with something crier cannot read",
                    endpoint.title
                ),
            });
        }
        let classified =
            http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
                .err()
                .unwrap_or(SendError::Transient {
                    reason: String::new(),
                });
        let said = http::body_message(&reply.body)
            .map(|message| format!("{}: {message}", http::status_text(reply.status)))
            .unwrap_or_else(|| http::status_text(reply.status));
        let reason = match classified {
            SendError::Permanent { .. } => format!(
                "{} would not renew the token of account `{}` ({said}): the authorization was revoked or has lapsed; authorize crier again ({}){}",
                endpoint.title,
                self.account,
                endpoint.help,
                match &self.file {
                    Some(file) => format!(" and write the new tokens to `{}`", file.display()),
                    None => String::new(),
                }
            ),
            _ => format!("{} could not renew the token now ({said})", endpoint.title),
        };
        Err(http::reworded(classified, reason))
    }
}

/// What `crier accounts connect` needs to authorize crier for one account: the network's
/// authorization page and token endpoint, the app, and the scopes to ask for.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub authorize_url: Url,
    pub endpoint: TokenEndpoint,
    pub scopes: &'static [&'static str],
}

/// A PKCE pair (RFC 7636): the verifier kept, its S256 challenge sent with the authorization.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        use base64::Engine as _;
        use rand::Rng as _;
        use sha2::Digest as _;
        const UNRESERVED: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
        let mut rng = rand::thread_rng();
        let verifier: String = (0..64)
            .map(|_| UNRESERVED[rng.gen_range(0..UNRESERVED.len())] as char)
            .collect();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A random `state`, checked when the network sends the browser back.
pub fn random_state() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    hex::encode(bytes)
}

impl Authorization {
    /// The address the person opens: the authorization page with the app, the scopes, the
    /// redirect, `state` and the PKCE challenge.
    pub fn url(&self, redirect: &str, state: &str, pkce: &Pkce) -> Url {
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.endpoint.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// Exchanges the authorization `code` for the token set.
    pub async fn exchange(
        &self,
        client: &reqwest::Client,
        code: &str,
        redirect: &str,
        pkce: &Pkce,
    ) -> Result<TokenSet, String> {
        let endpoint = &self.endpoint;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", pkce.verifier.clone()),
            ("client_id", endpoint.client_id.clone()),
        ];
        let mut request = client.post(endpoint.url.clone());
        match (&endpoint.client_secret, endpoint.auth) {
            (Some(secret), ClientAuth::Basic) => {
                request = request.basic_auth(&endpoint.client_id, Some(secret.expose()));
            }
            (Some(secret), ClientAuth::Body) => {
                form.push(("client_secret", secret.expose().to_owned()));
            }
            (None, _) => {}
        }
        let reply = http::fetch(request.form(&form)).await.map_err(|err| {
            format!(
                "{} did not answer the token request: {}",
                endpoint.title,
                err.reason()
            )
        })?;
        if !reply.status.is_success() {
            let said = http::body_message(&reply.body).unwrap_or_default();
            return Err(format!(
                "{} refused the authorization code ({}{}{said})",
                endpoint.title,
                http::status_text(reply.status),
                if said.is_empty() { "" } else { ": " }
            ));
        }
        let refreshed: Refreshed = serde_json::from_str(&reply.body).map_err(|_| {
            format!(
                "{} answered the token request with something crier cannot read",
                endpoint.title
            )
        })?;
        Ok(TokenSet {
            access_token: refreshed.access_token,
            refresh_token: refreshed.refresh_token,
            expires_at: refreshed
                .expires_in
                .map(|seconds| Utc::now() + TimeDelta::seconds(seconds)),
            expires_in: None,
            scope: refreshed.scope,
        })
    }
}

/// Waits on `listener` for the browser's redirect to `/callback` and answers it with a short
/// page; the authorization code, or why there is none (the person refused, or `state` does
/// not match). Requests for anything else (a browser's `favicon.ico`) are answered 404.
pub async fn wait_for_code(
    listener: &tokio::net::TcpListener,
    state: &str,
    title: &str,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Bounded: a browser makes one or two requests; a stray client cannot keep crier here.
    for _ in 0..32 {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|err| format!("the local redirect listener failed: {err}"))?;
        let mut buffer = vec![0u8; 8192];
        let mut read = 0;
        while read < buffer.len() {
            let n = stream.read(&mut buffer[read..]).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            read += n;
            if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
        let target = request.split_whitespace().nth(1).unwrap_or("").to_owned();
        let Ok(url) = Url::parse(&format!("http://localhost{target}")) else {
            continue;
        };
        if url.path() != "/callback" {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        let outcome = if query.get("state").map(String::as_str) != Some(state) {
            Err("the redirect's `state` does not match this request".to_owned())
        } else if let Some(error) = query.get("error") {
            Err(format!(
                "{title} did not authorize crier: {error}{}",
                query
                    .get("error_description")
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ))
        } else {
            query
                .get("code")
                .cloned()
                .ok_or_else(|| format!("{title} sent the browser back without a code"))
        };
        let page = match &outcome {
            Ok(_) => "crier is authorized. You can close this tab.".to_owned(),
            Err(reason) => format!("crier is not authorized: {reason}"),
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        return outcome;
    }
    Err("no redirect with an authorization code arrived".into())
}

/// When the secret file `path` was last written: where a relative `expires_in` counts from.
pub(crate) fn modified(path: &Path) -> Option<DateTime<Utc>> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified))
}

/// Writes `tokens` to `path` as JSON: to a temporary file beside it, readable by its owner
/// only, then renamed over it, so a crash leaves either the old tokens or the new ones.
pub fn write_tokens(path: &Path, tokens: &TokenSet) -> std::io::Result<()> {
    write_secret_json(path, tokens)
}

/// Writes `value` to the secret file `path` as `write_tokens` does: whole, owner-only.
pub fn write_secret_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write as _;
    let json = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tokens".into());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(json.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_token_never_refreshes_and_expires_in_counts_from_the_file() {
        let bare = TokenSet::parse("abc\n", None).unwrap();
        assert_eq!(bare.access_token, "abc");
        assert!(!bare.due(Utc::now() + TimeDelta::days(400)));
        let issued = Utc::now() - TimeDelta::hours(2);
        let set = TokenSet::parse(
            r#"{"access_token":"a","refresh_token":"r","expires_in":7200}"#,
            Some(issued),
        )
        .unwrap();
        assert_eq!(set.expires_at, Some(issued + TimeDelta::seconds(7200)));
        assert!(set.due(Utc::now()));
        assert!(TokenSet::parse(r#"{"refresh_token":"r"}"#, None).is_err());
    }

    #[test]
    fn tokens_are_written_whole_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "old").unwrap();
        let set = TokenSet {
            access_token: "a2".into(),
            refresh_token: Some("r2".into()),
            expires_at: Some(Utc::now()),
            expires_in: None,
            scope: None,
        };
        write_tokens(&path, &set).unwrap();
        let read = TokenSet::parse(&std::fs::read_to_string(&path).unwrap(), None).unwrap();
        assert_eq!(read.refresh_token.as_deref(), Some("r2"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{read:?}").contains("a2"));
    }
}
