//! Who is calling: the bearer token of each API request names a person of `people:`
//! (`ops::tokens::authenticate`), and the handler's extractor says what role it needs. No
//! token, or one unknown, expired or revoked: 401. A role that does not allow it: 403. Both
//! are decided before the request's body is read, so a refused request changes nothing.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chrono::Utc;

use super::AppState;
use super::problem::Problem;
use crate::ops::{Actor, Permission, tokens};

/// What a handler needs its caller to be allowed.
pub trait Needs: Send + Sync {
    const PERMISSION: Permission;
}

macro_rules! needs {
    ($($name:ident => $permission:ident),* $(,)?) => {
        $(
            #[doc = concat!("Needs `Permission::", stringify!($permission), "`.")]
            pub struct $name;
            impl Needs for $name {
                const PERMISSION: Permission = Permission::$permission;
            }
        )*
    };
}

needs! {
    ToRead => Read,
    ToRespond => Respond,
    ToTrigger => Trigger,
    ToDisqualify => Disqualify,
    ToPause => Pause,
    ToManageTokens => Tokens,
}

/// The person a request acts for, allowed what `N` needs.
pub struct Caller<N> {
    pub actor: Actor,
    needs: PhantomData<N>,
}

impl<N: Needs> FromRequestParts<AppState> for Caller<N> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let desk = state.desk()?;
        let header = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => Some(value.to_str().map_err(|_| {
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    tokens::Unauthorized::Malformed.to_string(),
                )
            })?),
            None => None,
        };
        let actor = tokens::authenticate(&desk, header, Utc::now())?
            .map_err(|refused| Problem::new(StatusCode::UNAUTHORIZED, refused.to_string()))?;
        actor
            .may(N::PERMISSION)
            .map_err(|forbidden| Problem::new(StatusCode::FORBIDDEN, forbidden.to_string()))?;
        Ok(Caller {
            actor,
            needs: PhantomData,
        })
    }
}
