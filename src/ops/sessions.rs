//! The dashboard's sign-ins: a browser signs in with a person's API token or with a one-time
//! login link (`crier login PERSON`), and gets a session: a secret for its cookie and a CSRF
//! token for its forms. The store keeps only SHA-256 digests of secrets; a link is used at
//! most once, before it expires; signing out ends the session.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Actor, Desk, tokens};
use crate::store::{NewLoginLink, NewSession, StoreError, from_millis, to_millis};

/// How long a session lasts from signing in.
pub const SESSION_HOURS: i64 = 12;
/// How long a login link is valid unless its maker says otherwise.
pub const LINK_MINUTES: i64 = 15;

/// Why a sign-in or a session's cookie does not name a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefused {
    #[error("unknown sign-in link (ask for a new one: `crier login PERSON`)")]
    UnknownLink,
    #[error("this sign-in link was used already, at {at}; each link signs in once")]
    LinkUsed { at: DateTime<Utc> },
    #[error("this sign-in link expired at {at}")]
    LinkExpired { at: DateTime<Utc> },
    #[error(transparent)]
    Token(#[from] tokens::Unauthorized),
    #[error("not signed in")]
    NoSession,
    #[error("the session ended at {at}; sign in again")]
    SessionEnded { at: DateTime<Utc> },
    #[error("the session expired at {at}; sign in again")]
    SessionExpired { at: DateTime<Utc> },
    #[error("`{person}` is no longer one of the people in crier.yaml")]
    PersonGone { person: String },
}

/// A session just begun: `secret` goes in the cookie and is kept nowhere.
#[derive(Debug, Clone)]
pub struct Session {
    pub secret: String,
    pub csrf: String,
    pub actor: Actor,
    pub expires_at: DateTime<Utc>,
}

/// A signed-in browser: who, and the CSRF token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub actor: Actor,
    pub csrf: String,
}

/// A login link just made: `secret` goes in the link and is kept nowhere.
#[derive(Debug, Clone)]
pub struct LoginLink {
    pub secret: String,
    pub person: String,
    pub expires_at: DateTime<Utc>,
}

/// The path of the dashboard's page that signs in with the link whose secret is `secret`.
pub fn link_path(secret: &str) -> String {
    format!("/signin/link?key={secret}")
}

fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a one-time login link for `person`, valid for `lifetime`.
pub fn issue_link(
    desk: &Desk,
    person: &Actor,
    lifetime: TimeDelta,
    now: DateTime<Utc>,
) -> Result<LoginLink, StoreError> {
    let secret = secret();
    let expires_at = now + lifetime.max(TimeDelta::seconds(1));
    desk.store.add_login_link(
        &NewLoginLink {
            person: person.name().to_string(),
            sha256: digest(&secret),
            expires_at: to_millis(expires_at),
        },
        to_millis(now),
    )?;
    Ok(LoginLink {
        secret,
        person: person.name().to_string(),
        expires_at: from_millis(to_millis(expires_at)),
    })
}

fn begin(desk: &Desk, actor: Actor, now: DateTime<Utc>) -> Result<Session, StoreError> {
    let secret = secret();
    let csrf = self::secret();
    let expires_at = from_millis(to_millis(now + TimeDelta::hours(SESSION_HOURS)));
    desk.store.add_session(
        &NewSession {
            person: actor.name().to_string(),
            sha256: digest(&secret),
            csrf: csrf.clone(),
            expires_at: to_millis(expires_at),
        },
        to_millis(now),
    )?;
    Ok(Session {
        secret,
        csrf,
        actor,
        expires_at,
    })
}

/// Signs in with the secret of a login link: once, before it expires.
pub fn sign_in_with_link(
    desk: &Desk,
    link: &str,
    now: DateTime<Utc>,
) -> Result<Result<Session, SignInRefused>, StoreError> {
    let Some(row) = desk
        .store
        .use_login_link(&digest(link.trim()), to_millis(now))?
    else {
        return Ok(Err(SignInRefused::UnknownLink));
    };
    if let Some(at) = row.used_at {
        return Ok(Err(SignInRefused::LinkUsed {
            at: from_millis(at),
        }));
    }
    if row.expires_at <= to_millis(now) {
        return Ok(Err(SignInRefused::LinkExpired {
            at: from_millis(row.expires_at),
        }));
    }
    match desk.actor(&row.person) {
        Ok(actor) => begin(desk, actor, now).map(Ok),
        Err(_) => Ok(Err(SignInRefused::PersonGone { person: row.person })),
    }
}

/// Signs in with a person's API token (`crier token new`).
pub fn sign_in_with_token(
    desk: &Desk,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Session, SignInRefused>, StoreError> {
    let header = format!("Bearer {}", token.trim());
    match tokens::authenticate(desk, Some(&header), now)? {
        Ok(actor) => begin(desk, actor, now).map(Ok),
        Err(refused) => Ok(Err(refused.into())),
    }
}

/// The person a session's cookie secret names, at `now`.
pub fn authenticate(
    desk: &Desk,
    secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<SignedIn, SignInRefused>, StoreError> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Ok(Err(SignInRefused::NoSession));
    };
    let Some(row) = desk.store.session_by_sha256(&digest(secret))? else {
        return Ok(Err(SignInRefused::NoSession));
    };
    if let Some(at) = row.ended_at {
        return Ok(Err(SignInRefused::SessionEnded {
            at: from_millis(at),
        }));
    }
    if row.expires_at <= to_millis(now) {
        return Ok(Err(SignInRefused::SessionExpired {
            at: from_millis(row.expires_at),
        }));
    }
    match desk.actor(&row.person) {
        Ok(actor) => Ok(Ok(SignedIn {
            actor,
            csrf: row.csrf,
        })),
        Err(_) => Ok(Err(SignInRefused::PersonGone { person: row.person })),
    }
}

/// Ends the session whose cookie holds `secret`; false if it had ended already.
pub fn sign_out(desk: &Desk, secret: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    desk.store.end_session(&digest(secret), to_millis(now))
}

/// Whether a form's CSRF token is the session's, compared in constant time.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len()
        && !a.is_empty()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
