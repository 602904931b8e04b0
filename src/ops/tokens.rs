//! People's API tokens: made for a person of `people:` (the token is shown once, the store
//! keeps only its SHA-256), listed, revoked, and checked on every API call, where a token
//! names the [`Actor`] who acts.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Actor, Desk};
use crate::store::{NewToken, StoreError, TokenRow, from_millis, to_millis};

/// What every token starts with, so one pasted in the wrong place is recognisable.
pub const PREFIX: &str = "crier_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token's name may not be empty")]
    EmptyName,
    #[error("a token must not expire before it is made")]
    ExpiresInPast,
    #[error("there is no token {id}")]
    Unknown { id: i64 },
    #[error("token {id} was revoked already, at {at}")]
    RevokedAlready { id: i64, at: DateTime<Utc> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request's credentials do not name a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthorized {
    #[error("no token: send `Authorization: Bearer <token>` (`crier token new PERSON` makes one)")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("unknown token")]
    Unknown,
    #[error("the token expired at {at}")]
    Expired { at: DateTime<Utc> },
    #[error("the token was revoked at {at}")]
    Revoked { at: DateTime<Utc> },
    /// The token's person is no longer one of `people:`.
    #[error("the token's person `{person}` is no longer one of the people in crier.yaml")]
    PersonGone { person: String },
}

/// A token as shown to people: never its secret nor its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub person: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&TokenRow> for TokenInfo {
    fn from(row: &TokenRow) -> Self {
        TokenInfo {
            id: row.id,
            person: row.person.clone(),
            name: row.name.clone(),
            created_at: from_millis(row.created_at),
            expires_at: row.expires_at.map(from_millis),
            revoked_at: row.revoked_at.map(from_millis),
        }
    }
}

/// A token just made: `secret` is shown this once and kept nowhere.
#[derive(Debug, Clone)]
pub struct Issued {
    pub secret: String,
    pub token: TokenInfo,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a token for `person`, valid for `lifetime` (for ever if `None`).
pub fn issue(
    desk: &Desk,
    person: &Actor,
    name: &str,
    lifetime: Option<TimeDelta>,
    now: DateTime<Utc>,
) -> Result<Issued, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    if lifetime.is_some_and(|l| l <= TimeDelta::zero()) {
        return Err(TokenError::ExpiresInPast);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let new = NewToken {
        person: person.name().to_string(),
        name: name.to_string(),
        sha256: digest(&secret),
        expires_at: lifetime.map(|l| to_millis(now + l)),
    };
    let id = desk.store.add_token(&new, to_millis(now))?;
    Ok(Issued {
        secret,
        token: TokenInfo {
            id,
            person: new.person,
            name: new.name,
            created_at: from_millis(to_millis(now)),
            expires_at: new.expires_at.map(from_millis),
            revoked_at: None,
        },
    })
}

/// Every token, oldest first.
pub fn list(desk: &Desk) -> Result<Vec<TokenInfo>, TokenError> {
    Ok(desk.store.tokens()?.iter().map(TokenInfo::from).collect())
}

/// Revokes token `id`: from now on it is refused.
pub fn revoke(desk: &Desk, id: i64, now: DateTime<Utc>) -> Result<TokenInfo, TokenError> {
    let tokens = desk.store.tokens()?;
    let Some(token) = tokens.iter().find(|t| t.id == id) else {
        return Err(TokenError::Unknown { id });
    };
    if let Some(at) = token.revoked_at {
        return Err(TokenError::RevokedAlready {
            id,
            at: from_millis(at),
        });
    }
    if !desk.store.revoke_token(id, to_millis(now))? {
        return Err(TokenError::Unknown { id });
    }
    let mut info = TokenInfo::from(token);
    info.revoked_at = Some(from_millis(to_millis(now)));
    Ok(info)
}

/// The person an `Authorization` header's bearer token acts for, at `now`.
pub fn authenticate(
    desk: &Desk,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<Actor, Unauthorized>, StoreError> {
    let Some(header) = authorization else {
        return Ok(Err(Unauthorized::Missing));
    };
    let secret = match header.split_once(' ') {
        Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => secret.trim(),
        _ => return Ok(Err(Unauthorized::Malformed)),
    };
    if secret.is_empty() {
        return Ok(Err(Unauthorized::Malformed));
    }
    let Some(token) = desk.store.token_by_sha256(&digest(secret))? else {
        return Ok(Err(Unauthorized::Unknown));
    };
    if let Some(at) = token.revoked_at {
        return Ok(Err(Unauthorized::Revoked {
            at: from_millis(at),
        }));
    }
    if let Some(at) = token.expires_at.filter(|at| *at <= to_millis(now)) {
        return Ok(Err(Unauthorized::Expired {
            at: from_millis(at),
        }));
    }
    Ok(desk
        .actor(&token.person)
        .map_err(|_| Unauthorized::PersonGone {
            person: token.person,
        }))
}
