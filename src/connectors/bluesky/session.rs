//! The account's signed-in session: `com.atproto.server.createSession` with the handle and the
//! app password, then `com.atproto.server.refreshSession` (with the refresh token) shortly
//! before the access token expires, or when the PDS answers `ExpiredToken`. One session is
//! shared by every concurrent call of the connector; a tokio mutex makes sure only one of them
//! signs in or refreshes at a time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Mutex;

use super::xrpc::{Call, Failure, Xrpc, with_reason};
use crate::connectors::SendError;
use crate::connectors::secret::Secret;

/// Refresh the access token when less than this is left of it.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// A signed-in session.
#[derive(Clone)]
pub(super) struct Session {
    pub access: Secret,
    refresh: Secret,
    pub did: String,
    pub handle: String,
    /// When the access token expires (its JWT `exp`), if it says.
    expires: Option<DateTime<Utc>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|at| at - now > REFRESH_MARGIN)
    }
}

/// The answer of `createSession` and `refreshSession`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
}

impl From<SessionAnswer> for Session {
    fn from(answer: SessionAnswer) -> Session {
        Session {
            expires: jwt_expiry(&answer.access_jwt),
            access: Secret::new(answer.access_jwt),
            refresh: Secret::new(answer.refresh_jwt),
            did: answer.did,
            handle: answer.handle,
        }
    }
}

/// Signs in on first use and keeps the session fresh.
pub(super) struct Sessions {
    identifier: String,
    password: Secret,
    current: Mutex<Option<Session>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("identifier", &self.identifier)
            .field("password", &self.password)
            .field(
                "signed_in",
                &self.current.try_lock().map(|s| s.is_some()).ok(),
            )
            .finish()
    }
}

impl Sessions {
    pub fn new(identifier: String, password: Secret) -> Sessions {
        Sessions {
            identifier,
            password,
            current: Mutex::new(None),
        }
    }

    /// A session whose access token has more than a few minutes left: the current one, a
    /// refreshed one, or a new sign-in.
    pub async fn current(&self, xrpc: &Xrpc) -> Result<Session, SendError> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref()
            && session.fresh_at(Utc::now())
        {
            return Ok(session.clone());
        }
        let session = self.renew_locked(xrpc, current.take()).await?;
        *current = Some(session.clone());
        Ok(session)
    }

    /// After the PDS refused `stale` as expired: a refreshed session, unless another call
    /// already replaced it.
    pub async fn renew(&self, xrpc: &Xrpc, stale: &Session) -> Result<Session, SendError> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref()
            && session.access != stale.access
        {
            return Ok(session.clone());
        }
        let session = self.renew_locked(xrpc, current.take()).await?;
        *current = Some(session.clone());
        Ok(session)
    }

    /// Refreshes `previous` if there is one, and signs in again if that is refused.
    async fn renew_locked(
        &self,
        xrpc: &Xrpc,
        previous: Option<Session>,
    ) -> Result<Session, SendError> {
        if let Some(previous) = previous {
            let call = Call::post_empty("com.atproto.server.refreshSession", "the session refresh");
            match xrpc
                .send::<SessionAnswer>(&call, Some(previous.refresh.expose()))
                .await
            {
                Ok(answer) => return Ok(answer.into()),
                // The refresh token itself expired or was revoked: sign in again.
                Err(failure) if failure.is_expired_token() => {}
                Err(failure) => return Err(failure.error),
            }
        }
        self.sign_in(xrpc).await
    }

    async fn sign_in(&self, xrpc: &Xrpc) -> Result<Session, SendError> {
        let call = Call::post(
            "com.atproto.server.createSession",
            "the sign-in",
            serde_json::json!({
                "identifier": self.identifier,
                "password": self.password.expose(),
            }),
        );
        xrpc.send::<SessionAnswer>(&call, None)
            .await
            .map(Session::from)
            .map_err(|failure: Failure| {
                let error = failure.error;
                let reason = format!("{} (account `{}`)", error.reason(), self.identifier);
                with_reason(&error, reason)
            })
    }
}

/// The `exp` claim of a JWT, read without checking its signature (only the PDS needs to trust
/// it; crier only wants to know when to refresh).
pub fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"scope":"com.atproto.access","exp":1767225600}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        assert_eq!(
            jwt_expiry(&token),
            DateTime::from_timestamp(1_767_225_600, 0)
        );
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }
}
