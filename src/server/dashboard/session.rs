//! Signing in and out of the dashboard, and who each request is. A browser signs in with a
//! person's API token or a one-time link and gets the `crier_session` cookie (HttpOnly,
//! SameSite=Strict, Secure under `server: { tls: … }` or `server: { secure_cookies: true }`); `ops::sessions` keeps
//! its digest and the CSRF token every form of the session carries. The sign-in forms,
//! before there is a session, carry the `crier_pre` cookie's value instead. A page asked
//! for without a session sends the browser to sign in and back.

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::Utc;
use chrono_tz::Tz;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Frame, i18n};
use crate::ops::sessions::{self, SESSION_HOURS, SignedIn};
use crate::ops::{Actor, Desk};
use crate::server::AppState;
use crate::server::problem::Problem;

pub const SESSION_COOKIE: &str = "crier_session";
const PRE_COOKIE: &str = "crier_pre";
const TZ_COOKIE: &str = "crier_tz";

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A path on this server to go back to, never another site's address.
pub fn local(next: &str) -> String {
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if safe && !next.starts_with("/signin") {
        next.to_string()
    } else {
        "/calendar".into()
    }
}

fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
}

/// The frame of any request: language, address, time zones; nobody signed in yet.
fn frame(parts: &Parts, desk: Option<&Desk>) -> Frame {
    let brand_tz = desk.map_or(chrono_tz::UTC, |d| d.plan.timezone);
    Frame {
        lang: i18n::choose(&parts.headers),
        here: here(parts),
        brand_tz,
        viewer_tz: cookie(&parts.headers, TZ_COOKIE)
            .map(|v| v.replace("%2F", "/").replace("%2f", "/"))
            .and_then(|v| v.parse::<Tz>().ok()),
        signed_in: None,
    }
}

/// A request from a browser signed in: who, and the CSRF token its forms must carry.
pub(crate) struct Viewer {
    pub actor: Actor,
    pub csrf: String,
    pub desk: Desk,
    pub frame: Frame,
    pub state: AppState,
}

impl Viewer {
    /// Refuses a form whose CSRF token is not this session's; nothing is done then.
    pub fn check(&self, given: &str) -> Result<(), Response> {
        if sessions::csrf_matches(&self.csrf, given) {
            return Ok(());
        }
        Err(self.frame.fail(
            StatusCode::FORBIDDEN,
            i18n::text(self.frame.lang, "error.csrf").unwrap_or("bad form"),
        ))
    }

    /// The brand's time zone and the viewer's.
    pub fn zones(&self) -> (Tz, Option<Tz>) {
        (self.frame.brand_tz, self.frame.viewer_tz)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let desk = state.desk().map_err(IntoResponse::into_response)?;
        let mut frame = frame(parts, Some(&desk));
        let secret = cookie(&parts.headers, SESSION_COOKIE);
        let signed = sessions::authenticate(&desk, secret.as_deref(), Utc::now())
            .map_err(|e| Problem::from(e).into_response())?;
        match signed {
            Ok(SignedIn { actor, csrf }) => {
                frame.signed_in = Some(SignedIn {
                    actor: actor.clone(),
                    csrf: csrf.clone(),
                });
                Ok(Viewer {
                    actor,
                    csrf,
                    desk,
                    frame,
                    state: state.clone(),
                })
            }
            Err(refused) => {
                let page = parts.method == Method::GET
                    && parts.uri.path() != "/events"
                    && !parts.headers.contains_key("x-crier-live");
                if page {
                    let next = super::query(&[("next", &frame.here)]);
                    Err(Redirect::to(&format!("/signin{next}")).into_response())
                } else {
                    Err(frame.fail(StatusCode::UNAUTHORIZED, refused))
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Serialize)]
struct SigninPage {
    pre: String,
    next: String,
    link_key: Option<String>,
    refused: Option<String>,
}

fn signin(
    frame: &Frame,
    status: StatusCode,
    next: &str,
    link_key: Option<String>,
    refused: Option<String>,
    notice: Option<&str>,
    secure: bool,
) -> Response {
    let pre = random();
    let mut response = frame.render(
        status,
        "signin.html",
        "signin.title",
        SigninPage {
            pre: pre.clone(),
            next: local(next),
            link_key,
            refused,
        },
        notice,
        None,
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(PRE_COOKIE, &pre, 3600, secure),
    );
    response
}

fn bare_frame(headers: &HeaderMap, state: &AppState, here: &str) -> Frame {
    let desk = state.desk().ok();
    Frame {
        lang: i18n::choose(headers),
        here: here.to_string(),
        brand_tz: desk.as_ref().map_or(chrono_tz::UTC, |d| d.plan.timezone),
        viewer_tz: None,
        signed_in: None,
    }
}

pub async fn signin_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let frame = bare_frame(&headers, &state, "/signin");
    let next = next.next.unwrap_or_default();
    signin(
        &frame,
        StatusCode::OK,
        &next,
        None,
        None,
        None,
        state.secure_cookies,
    )
}

pub async fn link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let frame = bare_frame(&headers, &state, "/signin");
    // The link is used by the button, not by opening it: a preview of the link (a chat
    // app's, a mail scanner's) does not spend it.
    signin(
        &frame,
        StatusCode::OK,
        next.next.as_deref().unwrap_or(""),
        next.key,
        None,
        None,
        state.secure_cookies,
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    next: String,
}

fn pre_matches(headers: &HeaderMap, given: &str) -> bool {
    cookie(headers, PRE_COOKIE).is_some_and(|pre| sessions::csrf_matches(&pre, given))
}

fn signed_in(session: sessions::Session, next: &str, secure: bool) -> Response {
    let mut response = Redirect::to(&local(next)).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &session.secret,
            SESSION_HOURS * 3600,
            secure,
        ),
    );
    headers.append(header::SET_COOKIE, set_cookie(PRE_COOKIE, "", 0, secure));
    response
}

fn finish(
    state: &AppState,
    headers: &HeaderMap,
    outcome: Result<Result<sessions::Session, sessions::SignInRefused>, crate::store::StoreError>,
    next: &str,
    link_key: Option<String>,
) -> Response {
    let frame = bare_frame(headers, state, "/signin");
    match outcome {
        Ok(Ok(session)) => signed_in(session, next, state.secure_cookies),
        Ok(Err(refused)) => signin(
            &frame,
            StatusCode::UNAUTHORIZED,
            next,
            link_key,
            Some(refused.to_string()),
            None,
            state.secure_cookies,
        ),
        Err(error) => Problem::from(error).into_response(),
    }
}

pub async fn signin_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    sign_in(&state, &headers, &form.csrf, &form.next, |desk, now| {
        sessions::sign_in_with_token(desk, &form.token, now)
    })
}

pub async fn signin_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    sign_in(&state, &headers, &form.csrf, &form.next, |desk, now| {
        sessions::sign_in_with_link(desk, &form.key, now)
    })
}

/// What both sign-in forms do: check the form's CSRF token against the sign-in page's
/// cookie, then try the credential it carries (`attempt`) and answer with the session or
/// the refusal.
fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    next: &str,
    attempt: impl FnOnce(
        &crate::ops::Desk,
        chrono::DateTime<Utc>,
    ) -> Result<
        Result<sessions::Session, sessions::SignInRefused>,
        crate::store::StoreError,
    >,
) -> Response {
    let frame = bare_frame(headers, state, "/signin");
    if !pre_matches(headers, csrf) {
        return frame.fail(
            StatusCode::FORBIDDEN,
            i18n::text(frame.lang, "error.csrf").unwrap_or_default(),
        );
    }
    let desk = match state.desk() {
        Ok(desk) => desk,
        Err(problem) => return problem.into_response(),
    };
    let outcome = attempt(&desk, Utc::now());
    finish(state, headers, outcome, next, None)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn signout(viewer: Viewer, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Err(error) = sessions::sign_out(&viewer.desk, &secret, Utc::now())
    {
        return Problem::from(error).into_response();
    }
    let secure = viewer.state.secure_cookies;
    let frame = Frame {
        signed_in: None,
        here: "/signin".into(),
        ..viewer.frame
    };
    let mut response = signin(
        &frame,
        StatusCode::OK,
        "/calendar",
        None,
        None,
        Some("notice.signed_out"),
        secure,
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure),
    );
    response
}

#[derive(Deserialize)]
pub struct LanguageQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    back: String,
}

/// The language switch: remembers the choice and goes back to the page.
pub async fn language(
    State(state): State<AppState>,
    Query(query): Query<LanguageQuery>,
) -> Response {
    let mut response = Redirect::to(&local(&query.back)).into_response();
    if let Some(code) = i18n::known(&query.to) {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(i18n::COOKIE, code, 365 * 86_400, state.secure_cookies),
        );
    }
    response
}

/// The service's events for the page's script, as `/api/v1/events` streams them.
pub async fn events(viewer: Viewer, headers: HeaderMap) -> Response {
    crate::server::events::serve(&viewer.state, &headers).into_response()
}
