//! People's API tokens as the store keeps them: who a token acts for, its name, when it
//! expires or was revoked, and the SHA-256 of the token (never the token itself).

use serde::Serialize;

use super::{Millis, StoreResult};

/// A token to record: `sha256` is the hex digest of the secret handed to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub person: String,
    pub name: String,
    pub sha256: String,
    pub expires_at: Option<Millis>,
}

/// A recorded token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub person: String,
    pub name: String,
    #[serde(skip)]
    pub sha256: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// The API tokens of a store. Every method is one transaction.
pub trait TokenStore: Send + Sync {
    /// Records a token; its id. A digest recorded already is refused.
    fn add_token(&self, token: &NewToken, now: Millis) -> StoreResult<i64>;
    /// The token whose secret has this digest, revoked or expired ones included.
    fn token_by_sha256(&self, sha256: &str) -> StoreResult<Option<TokenRow>>;
    /// Every token, oldest first.
    fn tokens(&self) -> StoreResult<Vec<TokenRow>>;
    /// Revokes token `id`; false if there is none or it was revoked already.
    fn revoke_token(&self, id: i64, now: Millis) -> StoreResult<bool>;
}
