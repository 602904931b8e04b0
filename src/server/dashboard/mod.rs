//! The web dashboard at `/`, a front end beside the API calling the same `ops`: pages
//! rendered on the server from minijinja templates embedded in the binary (`templates/`,
//! autoescaped), one stylesheet and one small script (`assets/`; no CDN, no build step),
//! every text from one catalog in English and Russian (`i18n`). People sign in with an API
//! token or a one-time link and get a session cookie; every form carries the session's CSRF
//! token (`session`). Pages: the calendar (`calendar`, a post's images from `images`), runs (`runs`), approvals and the
//! kill switch (`decide`), accounts (`accounts`), incidents (`incidents`) and contests
//! (`contests`). `/events` streams the service's events to
//! the page's script, which refreshes what the page shows.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde::Serialize;

use super::AppState;
use crate::ops::Permission;
use crate::ops::sessions::SignedIn;

mod accounts;
mod calendar;
mod contests;
mod decide;
pub mod i18n;
mod images;
mod incidents;
mod runs;
pub(crate) mod session;

pub(crate) use session::Viewer;

/// The pages in the header's navigation: path and catalog key.
const NAV: &[(&str, &str)] = &[
    ("/calendar", "nav.calendar"),
    ("/runs", "nav.runs"),
    ("/approvals", "nav.approvals"),
    ("/pauses", "nav.kill"),
    ("/incidents", "nav.incidents"),
    ("/contests", "nav.contests"),
    ("/accounts", "nav.accounts"),
];

/// The templates, by file name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("error.html", include_str!("templates/error.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("calendar.html", include_str!("templates/calendar.html")),
    ("chip.html", include_str!("templates/chip.html")),
    ("post.html", include_str!("templates/post.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("approvals.html", include_str!("templates/approvals.html")),
    (
        "kill_switch.html",
        include_str!("templates/kill_switch.html"),
    ),
    ("accounts.html", include_str!("templates/accounts.html")),
    ("incidents.html", include_str!("templates/incidents.html")),
    ("incident.html", include_str!("templates/incident.html")),
    ("contests.html", include_str!("templates/contests.html")),
    ("contest.html", include_str!("templates/contest.html")),
    ("decision.html", include_str!("templates/decision.html")),
];

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// The dashboard's routes, mounted at `/` beside `/api/v1`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
        .route("/lang", get(session::language))
        .route(
            "/signin",
            get(session::signin_page).post(session::signin_token),
        )
        .route(
            "/signin/link",
            get(session::link_page).post(session::signin_link),
        )
        .route("/signout", post(session::signout))
        .route("/events", get(session::events))
        .route("/calendar", get(calendar::page))
        .route("/calendar/post", get(calendar::post))
        .route("/calendar/image", get(images::image))
        .route("/runs", get(runs::page))
        .route("/runs/{id}/send-again", post(runs::send_again))
        .route("/approvals", get(decide::approvals))
        .route("/approvals/{id}/decide", post(decide::decide))
        .route("/pauses", get(decide::kill_switch).post(decide::pause))
        .route("/pauses/resume", post(decide::resume))
        .route("/accounts", get(accounts::page))
        .route("/incidents", get(incidents::list))
        .route("/incidents/{id}", get(incidents::detail))
        .route("/incidents/{id}/act", post(incidents::act))
        .route("/incidents/{id}/report/{format}", get(incidents::report))
        .route("/contests", get(contests::list))
        .route("/contests/{name}", get(contests::detail))
        .route("/contests/{name}/proof", get(contests::proof))
        .layer(axum::middleware::from_fn(secure_headers))
}

/// Every dashboard answer: no framing, no sniffing, no referrer (a sign-in link's secret
/// is in its address), scripts and styles from this server only.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn home() -> Redirect {
    Redirect::to("/calendar")
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("the dashboard's template {name}: {e:#}"));
        }
        env.add_function("t", i18n::translate);
        env
    })
}

/// One entry of the header's navigation.
#[derive(Serialize)]
struct NavItem {
    path: &'static str,
    key: &'static str,
    current: bool,
}

#[derive(Serialize)]
struct Language {
    code: &'static str,
    name: &'static str,
}

/// What the signed-in person's role lets them use: the buttons shown.
#[derive(Serialize, Default)]
struct May {
    trigger: bool,
    pause: bool,
    disqualify: bool,
}

/// What every page's frame shows.
#[derive(Serialize)]
struct Chrome {
    lang: &'static str,
    person: Option<String>,
    role: Option<&'static str>,
    csrf: String,
    may: May,
    nav: Vec<NavItem>,
    here: String,
    here_encoded: String,
    brand_tz: String,
    viewer_tz: Option<String>,
    version: &'static str,
    languages: Vec<Language>,
}

/// The frame of a page, for a person signed in or not.
pub(crate) struct Frame {
    pub lang: &'static str,
    pub here: String,
    pub brand_tz: Tz,
    pub viewer_tz: Option<Tz>,
    pub signed_in: Option<SignedIn>,
}

impl Frame {
    fn chrome(&self, csrf: Option<&str>) -> Chrome {
        let viewer = self.signed_in.as_ref();
        let path = self.here.split('?').next().unwrap_or("");
        Chrome {
            lang: self.lang,
            person: viewer.map(|v| v.actor.name().to_string()),
            role: viewer.map(|v| v.actor.role().name()),
            csrf: csrf
                .map(str::to_owned)
                .or_else(|| viewer.map(|v| v.csrf.clone()))
                .unwrap_or_default(),
            may: viewer.map_or_else(May::default, |v| May {
                trigger: v.actor.may(Permission::Trigger).is_ok(),
                pause: v.actor.may(Permission::Pause).is_ok(),
                disqualify: v.actor.may(Permission::Disqualify).is_ok(),
            }),
            nav: NAV
                .iter()
                .map(|(nav_path, key)| NavItem {
                    path: nav_path,
                    key,
                    current: path == *nav_path || path.starts_with(&format!("{nav_path}/")),
                })
                .collect(),
            here: self.here.clone(),
            here_encoded: encode(&self.here),
            brand_tz: self.brand_tz.name().to_string(),
            viewer_tz: self
                .viewer_tz
                .filter(|tz| *tz != self.brand_tz)
                .map(|tz| tz.name().to_string()),
            version: env!("CARGO_PKG_VERSION"),
            languages: i18n::LANGUAGES
                .iter()
                .map(|(code, name)| Language { code, name })
                .collect(),
        }
    }

    /// `template` filled with `page`, in this frame; `notice` a catalog key to show on top.
    pub fn render(
        &self,
        status: StatusCode,
        template: &str,
        title: &str,
        page: impl Serialize,
        notice: Option<&str>,
        csrf: Option<&str>,
    ) -> Response {
        let context = minijinja::context! {
            c => self.chrome(csrf),
            lang => self.lang,
            title => title,
            notice => notice,
            p => page,
        };
        let rendered = environment()
            .get_template(template)
            .and_then(|t| t.render(context));
        match rendered {
            Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
            Err(error) => {
                tracing::error!("the dashboard's page {template} failed: {error:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the page {template} cannot be shown: {error}"),
                )
                    .into_response()
            }
        }
    }

    /// A page that says what went wrong, and a way back.
    pub fn fail(&self, status: StatusCode, message: impl std::fmt::Display) -> Response {
        let title = match status {
            StatusCode::FORBIDDEN => "error.forbidden",
            StatusCode::NOT_FOUND => "error.not_found",
            _ => "error.title",
        };
        let environment_context = minijinja::context! {
            c => self.chrome(None),
            lang => self.lang,
            title => title,
            message => message.to_string(),
            back => back_to(&self.here),
        };
        match environment()
            .get_template("error.html")
            .and_then(|t| t.render(environment_context))
        {
            Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
            Err(error) => (status, format!("{message} ({error})")).into_response(),
        }
    }
}

/// The page a failed request goes back to: its section (`/approvals` for a decision).
fn back_to(here: &str) -> String {
    let path = here.split('?').next().unwrap_or("/");
    let section = path.trim_start_matches('/').split('/').next().unwrap_or("");
    format!("/{section}")
}

/// A time as a page shows it: in the brand's zone, the viewer's beside it when it differs.
#[derive(Serialize, Clone)]
pub(super) struct When {
    pub at: String,
    pub viewer: Option<String>,
    pub iso: String,
}

pub(super) fn when(at: DateTime<Utc>, brand: Tz, viewer: Option<Tz>) -> When {
    let local = at.with_timezone(&brand);
    When {
        at: local.format("%Y-%m-%d %H:%M").to_string(),
        viewer: viewer
            .filter(|v| *v != brand)
            .map(|v| at.with_timezone(&v).format("%H:%M").to_string()),
        iso: local.to_rfc3339(),
    }
}

/// A stable colour (one of the stylesheet's twelve `pb-N`) for a playbook's name.
pub(super) fn hue(playbook: &str) -> u8 {
    let mut hash: u32 = 2_166_136_261;
    for byte in playbook.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(16_777_619);
    }
    (hash % 12) as u8
}

/// `name=value` pairs as a query string, empty values left out.
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
