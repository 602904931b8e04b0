//! The dashboard's sign-ins as the store keeps them: sessions (a browser signed in as a
//! person, with the CSRF token its forms carry) and one-time login links. Only SHA-256
//! digests of their secrets are kept, never the secrets.

use serde::Serialize;

use super::{Millis, StoreResult};

/// A session to record: `sha256` is the hex digest of the cookie's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub person: String,
    pub sha256: String,
    pub csrf: String,
    pub expires_at: Millis,
}

/// A recorded session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
    pub id: i64,
    pub person: String,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub ended_at: Option<Millis>,
}

/// A one-time login link to record: `sha256` is the hex digest of the link's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginLink {
    pub person: String,
    pub sha256: String,
    pub expires_at: Millis,
}

/// A recorded login link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginLinkRow {
    pub id: i64,
    pub person: String,
    #[serde(skip)]
    pub sha256: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

/// The dashboard's sessions and login links. Every method is one transaction.
pub trait SessionStore: Send + Sync {
    /// Records a session; its id. A digest recorded already is refused.
    fn add_session(&self, session: &NewSession, now: Millis) -> StoreResult<i64>;
    /// The session whose secret has this digest, ended or expired ones included.
    fn session_by_sha256(&self, sha256: &str) -> StoreResult<Option<SessionRow>>;
    /// Ends the session with this digest (signing out); false if there is none or it ended.
    fn end_session(&self, sha256: &str, now: Millis) -> StoreResult<bool>;
    /// Records a login link; its id. A digest recorded already is refused.
    fn add_login_link(&self, link: &NewLoginLink, now: Millis) -> StoreResult<i64>;
    /// The link with this digest as it was, marked used at `now` if it was neither used nor
    /// expired: of two browsers using one link at once, only one finds `used_at` empty.
    fn use_login_link(&self, sha256: &str, now: Millis) -> StoreResult<Option<LoginLinkRow>>;
}
