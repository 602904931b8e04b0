//! The web dashboard over HTTP: signing in with a token and with a one-time link (once,
//! not after it expires), signing out, CSRF and role refusals that change nothing, every
//! page rendered on the quickstart, approving, pausing and resuming through the forms, the
//! event stream behind a session, the catalog in both languages, and sending again a send
//! crier could not confirm.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::engine::service::{Service, ServiceHandle};
use crier::ops::{Desk, sessions, tokens};
use crier::store::{ApprovalState, Store, to_millis};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use tempfile::TempDir;

use crate::support::playbooks::{PEOPLE_CONFIG, approval_campaign, folder, quickstart_copy};

struct Rig {
    _dir: TempDir,
    service: Option<ServiceHandle>,
    base: String,
    client: reqwest::Client,
    desk: Desk,
}

/// A browser: its session cookie and the CSRF token of the pages it was shown.
struct Browser {
    session: String,
    csrf: String,
}

fn attribute_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    Some(&rest[..rest.find('"')?])
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(header: &str) -> String {
    header
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

impl Rig {
    async fn start(dir: TempDir) -> Rig {
        let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
            .await
            .expect("the service starts");
        let view = service.view();
        let plan = view.plan().expect("a plan");
        let bound =
            crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
                .await
                .expect("the server starts");
        Rig {
            _dir: dir,
            service: Some(service),
            base: format!("http://{bound}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .redirect(Policy::none())
                .build()
                .unwrap(),
            desk: Desk::new(plan, view.store()),
        }
    }

    async fn with_campaign() -> Rig {
        Rig::start(folder(
            PEOPLE_CONFIG,
            &[("news.yaml", &approval_campaign())],
        ))
        .await
    }

    fn token(&self, person: &str) -> String {
        let actor = self.desk.actor(person).unwrap();
        tokens::issue(
            &self.desk,
            &actor,
            "test",
            Some(TimeDelta::hours(1)),
            Utc::now(),
        )
        .unwrap()
        .secret
    }

    /// `GET path` with the headers given; status, the answer's headers and its text.
    async fn get(
        &self,
        path: &str,
        browser: Option<&Browser>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(browser) = browser {
            request = request.header("cookie", format!("crier_session={}", browser.session));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    async fn page(&self, path: &str, browser: &Browser) -> String {
        let (status, _, body) = self.get(path, Some(browser), &[]).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// `POST path` with a form, as `browser` (its CSRF token unless `csrf` is given).
    async fn post(
        &self,
        path: &str,
        browser: &Browser,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", browser.csrf.as_str())];
        fields.extend(form.iter().filter(|(k, _)| *k != "csrf"));
        if let Some((_, csrf)) = form.iter().find(|(k, _)| *k == "csrf") {
            fields[0].1 = csrf;
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("crier_session={}", browser.session))
            .form(&fields)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// The sign-in form at `path`: its `crier_pre` cookie and the form's token.
    async fn signin_form(&self, path: &str) -> (String, String, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            panic!(
                "GET {path}: {} {}",
                response.status(),
                response.text().await.unwrap()
            );
        }
        let pre = cookie_value(&set_cookie(&response, "crier_pre").expect("a crier_pre cookie"));
        let html = response.text().await.unwrap();
        let csrf = attribute_after(&html, "name=\"csrf\" value=\"")
            .expect("the form's token")
            .to_string();
        (pre, csrf, html)
    }

    /// Posts a sign-in form; the answer and its `crier_session` cookie, if it set one.
    async fn sign_in_post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        pre: &str,
    ) -> (StatusCode, Option<String>, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("crier_pre={pre}"))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let cookie = set_cookie(&response, "crier_session");
        (status, cookie, response.text().await.unwrap())
    }

    /// Signs `person` in with a token; the browser with its session and CSRF token.
    async fn sign_in(&self, person: &str) -> Browser {
        let token = self.token(person);
        let (pre, csrf, _) = self.signin_form("/signin").await;
        let (status, cookie, body) = self
            .sign_in_post(
                "/signin",
                &[("csrf", &csrf), ("token", &token), ("next", "/approvals")],
                &pre,
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let session = cookie_value(&cookie.expect("a session cookie"));
        let mut browser = Browser {
            session,
            csrf: String::new(),
        };
        let page = self.page("/calendar", &browser).await;
        browser.csrf = attribute_after(&page, "name=\"csrf\" value=\"")
            .expect("the sign-out form's token")
            .to_string();
        browser
    }

    async fn stop(mut self) {
        let service = self.service.take().unwrap();
        tokio::time::timeout(Duration::from_secs(60), service.stop())
            .await
            .expect("the service stops within a minute")
            .expect("the service stops cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signs_in_with_a_strict_http_only_cookie_and_signing_out_ends_it() {
    let rig = Rig::with_campaign().await;
    // Without a session, a page sends the browser to sign in and back.
    let (status, headers, _) = rig.get("/runs?playbook=news", None, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        "/signin?next=%2Fruns%3Fplaybook%3Dnews"
    );
    // A wrong token is refused on the page, in words.
    let (pre, csrf, _) = rig.signin_form("/signin").await;
    let (status, cookie, body) = rig
        .sign_in_post("/signin", &[("csrf", &csrf), ("token", "crier_nope")], &pre)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(body.contains("unknown token"), "{body}");
    // The form's token must be the one its page was given.
    let token = rig.token("ada");
    let (status, cookie, _) = rig
        .sign_in_post("/signin", &[("csrf", "forged"), ("token", &token)], &pre)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(cookie.is_none());

    let (pre, csrf, _) = rig.signin_form("/signin").await;
    let (status, cookie, _) = rig
        .sign_in_post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("next", "https://evil.example/"),
            ],
            &pre,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no TLS configured: {cookie}");
    let browser = Browser {
        session: cookie_value(&cookie),
        csrf: String::new(),
    };
    let page = rig.page("/calendar", &browser).await;
    assert!(page.contains("ada"), "the person signed in is shown");
    let csrf = attribute_after(&page, "name=\"csrf\" value=\"")
        .unwrap()
        .to_string();
    let browser = Browser { csrf, ..browser };

    // Signing out needs the form's token, then ends the session for good.
    let (status, _, _) = rig.post("/signout", &browser, &[("csrf", "wrong")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    rig.page("/calendar", &browser).await;
    let (status, _, body) = rig.post("/signout", &browser, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = rig.get("/calendar", Some(&browser), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_link_signs_in_once_and_never_after_it_expires() {
    let rig = Rig::with_campaign().await;
    let vera = rig.desk.actor("vera").unwrap();
    let link = sessions::issue_link(&rig.desk, &vera, TimeDelta::minutes(15), Utc::now()).unwrap();
    let path = sessions::link_path(&link.secret);
    // Opening the link (as a chat app's preview does) does not spend it.
    let (pre, csrf, html) = rig.signin_form(&path).await;
    rig.signin_form(&path).await;
    assert!(html.contains(&link.secret));
    let fields = [("csrf", csrf.as_str()), ("key", link.secret.as_str())];
    let (status, cookie, body) = rig.sign_in_post("/signin/link", &fields, &pre).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let browser = Browser {
        session: cookie_value(&cookie.expect("a session cookie")),
        csrf: String::new(),
    };
    assert!(rig.page("/approvals", &browser).await.contains("vera"));
    // Used once: refused the second time.
    let (status, cookie, body) = rig.sign_in_post("/signin/link", &fields, &pre).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(body.contains("used already"), "{body}");
    // Expired: refused though never used.
    let old = sessions::issue_link(
        &rig.desk,
        &vera,
        TimeDelta::minutes(1),
        Utc::now() - TimeDelta::minutes(2),
    )
    .unwrap();
    let fields = [("csrf", csrf.as_str()), ("key", old.secret.as_str())];
    let (status, cookie, body) = rig.sign_in_post("/signin/link", &fields, &pre).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(body.contains("expired"), "{body}");
    // The store keeps no secret, only digests.
    let store = rig.desk.store.clone();
    assert!(
        sessions::authenticate(&rig.desk, Some(&link.secret), Utc::now())
            .unwrap()
            .is_err(),
        "a link's secret is not a session"
    );
    drop(store);
    rig.stop().await;
}

/// Everything the forms could change, to compare before and after a refused one.
fn snapshot(store: &dyn Store) -> String {
    let now = to_millis(Utc::now());
    format!(
        "{:?}\n{:?}",
        store.pauses(now).unwrap(),
        store.approvals(false).unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_forms_change_nothing_and_buttons_a_role_may_not_use_are_not_shown() {
    let rig = Rig::with_campaign().await;
    let ed = rig.sign_in("ed").await;
    let before = snapshot(rig.desk.store.as_ref());
    // An editor sees no kill switch to press, and the server refuses it anyway.
    let page = rig.page("/pauses", &ed).await;
    assert!(!page.contains("action=\"/pauses\""), "{page}");
    let (status, _, body) = rig
        .post("/pauses", &ed, &[("scope", "all"), ("reason", "try")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("needs the admin role"), "{body}");
    // Not one of the approvers: no buttons, and refused.
    let page = rig.page("/approvals", &ed).await;
    assert!(page.contains("news/launch"), "{page}");
    assert!(!page.contains("/decide\""), "{page}");
    let id = rig.desk.store.approvals(false).unwrap()[0].id;
    let (status, _, _) = rig
        .post(
            &format!("/approvals/{id}/decide"),
            &ed,
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An admin's form without the session's token.
    let ada = rig.sign_in("ada").await;
    assert!(
        rig.page("/pauses", &ada)
            .await
            .contains("action=\"/pauses\"")
    );
    let (status, _, _) = rig
        .post(
            "/pauses",
            &ada,
            &[("csrf", "not-the-token"), ("scope", "all"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = rig
        .post(
            "/pauses",
            &ada,
            &[("csrf", &ed.csrf), ("scope", "all"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another session's token");
    // Bad input: said where and why.
    let (status, _, body) = rig
        .post(
            "/pauses",
            &ada,
            &[("scope", "account:nope"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("unknown account `nope`"), "{body}");
    assert_eq!(snapshot(rig.desk.store.as_ref()), before);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_pause_and_resume_through_the_forms() {
    let rig = Rig::with_campaign().await;
    let vera = rig.sign_in("vera").await;
    let page = rig.page("/approvals", &vera).await;
    assert!(page.contains("Launch day"), "the text to approve: {page}");
    let id = rig.desk.store.approvals(false).unwrap()[0].id;
    assert!(page.contains(&format!("/approvals/{id}/decide")));
    // A rejection needs a note.
    let (status, _, body) = rig
        .post(
            &format!("/approvals/{id}/decide"),
            &vera,
            &[("decision", "reject")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, location, _) = rig
        .post(
            &format!("/approvals/{id}/decide"),
            &vera,
            &[("decision", "approve"), ("note", "looks good")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let approval = &rig.desk.store.approvals(false).unwrap()[0];
    assert_eq!(approval.state, ApprovalState::Approved);
    assert_eq!(approval.decisions[0].by, "vera");
    assert_eq!(approval.decisions[0].note.as_deref(), Some("looks good"));
    let page = rig.page(&location, &vera).await;
    assert!(page.contains("Approved."), "{page}");
    assert!(page.contains("looks good"), "{page}");

    let ada = rig.sign_in("ada").await;
    let (status, location, body) = rig
        .post(
            "/pauses",
            &ada,
            &[("scope", "all"), ("reason", "storm"), ("until", "")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let page = rig.page(&location, &ada).await;
    assert!(page.contains("Everything is paused"), "{page}");
    assert!(page.contains("storm"));
    assert!(page.contains("class=\"held\""));
    let pauses = rig.desk.store.pauses(to_millis(Utc::now())).unwrap();
    assert_eq!((pauses.len(), pauses[0].by.as_str()), (1, "ada"));
    // A campaign's pause, until a time in the brand's zone.
    let until = (Utc::now() + TimeDelta::days(2))
        .with_timezone(&chrono_tz::Europe::Kyiv)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (status, _, body) = rig
        .post(
            "/pauses",
            &ada,
            &[
                ("scope", "campaign:news"),
                ("reason", "recall"),
                ("until", &until),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let page = rig.page("/calendar?view=list", &ada).await;
    assert!(
        page.contains("mark-paused"),
        "posts ahead are marked paused: {page}"
    );
    for scope in ["campaign:news", "all"] {
        let (status, location, _) = rig.post("/pauses/resume", &ada, &[("scope", scope)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location, "/pauses?done=resumed");
    }
    assert!(
        rig.desk
            .store
            .pauses(to_millis(Utc::now()))
            .unwrap()
            .is_empty()
    );
    let (status, _, body) = rig.post("/pauses/resume", &ada, &[("scope", "all")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_on_the_quickstart_in_both_languages() {
    let rig = Rig::start(quickstart_copy()).await;
    let admin = rig.sign_in("pr_lead").await;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Kyiv)
        .format("%Y-%m-%d")
        .to_string();
    for path in [
        "/calendar".to_string(),
        "/calendar?view=week".into(),
        format!("/calendar?view=list&date={today}"),
        "/calendar?view=month&account=brand_mastodon&network=console&playbook=rain-boots".into(),
        "/runs".into(),
        "/runs?state=failed&since=2020-01-01".into(),
        "/approvals".into(),
        "/pauses".into(),
        "/accounts".into(),
        "/incidents".into(),
        "/contests".into(),
        "/contests/december-giveaway".into(),
    ] {
        let page = rig.page(&path, &admin).await;
        assert!(page.contains("<main id=\"content\""), "{path}: {page}");
        assert!(page.contains("lang=\"en\""), "{path}");
    }
    // The quickstart's rain boots: teaser on day 27, launch on day 30 (day 1 is today).
    let list = rig
        .page(&format!("/calendar?view=list&date={today}"), &admin)
        .await
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    assert!(list.contains("rain-boots/teaser"), "{list}");
    assert!(list.contains("rain-boots/launch"), "{list}");
    let href = attribute_after(
        &list,
        "href=\"/calendar/post?playbook=rain-boots&item=launch",
    )
    .map(|rest| format!("/calendar/post?playbook=rain-boots&item=launch{rest}"))
    .expect("the launch links to its detail");
    let detail = rig.page(&href, &admin).await;
    assert!(
        detail.contains("brand_mastodon") && detail.contains("brand_bluesky"),
        "{detail}"
    );
    assert!(detail.contains("Rain Boots"), "{detail}");
    assert!(detail.contains("class=\"preview net-console\""), "{detail}");
    let accounts = rig.page("/accounts", &admin).await;
    assert!(accounts.contains("oncall_slack") && accounts.contains("ready"));
    // Bad input is said, not guessed.
    let (status, _, body) = rig.get("/calendar?date=tomorrow", Some(&admin), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("`tomorrow` is not a day"), "{body}");

    // Russian, by the browser's language and by the switch.
    let (_, _, page) = rig
        .get(
            "/calendar",
            Some(&admin),
            &[("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")],
        )
        .await;
    assert!(
        page.contains("lang=\"ru\"") && page.contains("Календарь"),
        "{page}"
    );
    let (status, headers, _) = rig.get("/lang?to=ru&back=/runs", Some(&admin), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/runs");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("crier_lang=ru"), "{cookie}");
    for path in [
        "/calendar",
        "/calendar?view=list",
        "/runs",
        "/approvals",
        "/pauses",
        "/accounts",
        "/incidents",
        "/contests",
        "/contests/december-giveaway",
    ] {
        let (status, _, page) = rig
            .get(
                path,
                None,
                &[(
                    "cookie",
                    &format!("crier_session={}; crier_lang=ru", admin.session),
                )],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains("lang=\"ru\""), "{path}");
        // The incidents and contests pages: nothing but names is left in English.
        if path.starts_with("/incidents") || path.starts_with("/contests") {
            let data = ["december-giveaway", "pr_lead", "Europe/Kyiv"];
            assert_eq!(
                crate::support::pages::english_left(&page, &data),
                Vec::<String>::new(),
                "{path}: {page}"
            );
        }
    }
    // The switch goes back to this server only.
    let (_, headers, _) = rig
        .get("/lang?to=ru&back=//evil.example", Some(&admin), &[])
        .await;
    assert_eq!(headers["location"], "/calendar");
    rig.stop().await;
}

#[test]
fn every_text_of_the_catalog_has_english_and_russian() {
    use crier::server::dashboard::i18n::{CATALOG, text};
    let mut keys = std::collections::HashSet::new();
    for (key, en, ru) in CATALOG {
        assert!(keys.insert(*key), "`{key}` is in the catalog twice");
        assert!(!en.trim().is_empty(), "`{key}` has no English");
        assert!(!ru.trim().is_empty(), "`{key}` has no Russian");
        let placeholders = |s: &str| {
            let mut found: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            found.sort();
            found
        };
        assert_eq!(placeholders(en), placeholders(ru), "`{key}`'s placeholders");
    }
    // Every key a template names literally is in the catalog.
    let templates =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server/dashboard/templates");
    for entry in std::fs::read_dir(templates).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for quote in ['"', '\''] {
            let marker = format!("t({quote}");
            for piece in source.split(&marker).skip(1) {
                let key = &piece[..piece.find(quote).unwrap()];
                let dynamic = piece[key.len() + 1..].trim_start().starts_with('~');
                if dynamic {
                    assert!(
                        CATALOG.iter().any(|(k, _, _)| k.starts_with(key)),
                        "{}: no text starts with `{key}`",
                        path.display()
                    );
                } else {
                    assert!(
                        text("ru", key).is_some(),
                        "{}: `{key}` is not in the catalog",
                        path.display()
                    );
                }
            }
        }
    }
    // The keys made from values: every state, role, mark a page can show.
    let made = [
        "run.running",
        "run.waiting",
        "run.succeeded",
        "run.failed",
        "run.skipped",
        "run.missed",
        "run.rejected",
        "send.pending",
        "send.sending",
        "send.sent",
        "send.failed",
        "send.held",
        "send.skipped",
        "role.viewer",
        "role.editor",
        "role.admin",
        "approval.pending",
        "approval.approved",
        "approval.rejected",
        "decision.approve",
        "decision.reject",
        "approvals.need.any",
        "approvals.need.all",
        "approvals.timeout.hold",
        "approvals.timeout.skip",
        "approvals.timeout.send",
        "scope.all",
        "scope.campaigns",
        "scope.account",
        "scope.campaign",
        "mark.approval",
        "mark.delayed",
        "mark.rejected",
        "mark.paused",
        "mark.sent",
        "mark.failed",
        "mark.condition",
        "mark.milestone",
    ];
    for key in made {
        assert!(text("ru", key).is_some(), "`{key}` is not in the catalog");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_needs_a_session_and_carries_a_pause_made_in_a_form_once() {
    let rig = Rig::with_campaign().await;
    let (status, _, _) = rig.get("/events", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ada = rig.sign_in("ada").await;
    let response = rig
        .client
        .get(format!("{}/events", rig.base))
        .header("cookie", format!("crier_session={}", ada.session))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut response = response;
    let (status, _, _) = rig
        .post("/pauses", &ada, &[("scope", "all"), ("reason", "storm")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: paused") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    // The form's action reaches the stream once, from the store's journal of actions, and
    // the resume after it too.
    let (status, _, _) = rig.post("/pauses/resume", &ada, &[("scope", "all")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let resumed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: resumed") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(resumed, Ok(true), "{seen}");
    // Whatever else would come: a second copy of either is on the stream within a few
    // journal reads.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert_eq!(seen.matches("event: paused").count(), 1, "{seen}");
    assert_eq!(seen.matches("event: resumed").count(), 1, "{seen}");
    rig.stop().await;
}

/// On a network that cannot be asked whether a post went out (Slack), a send whose outcome
/// is unknown is recorded unconfirmed; once a person checked, "send again" posts it again,
/// through the form for an editor, refused for a viewer and for a send that was confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_send_is_sent_again_by_an_editor() {
    use crate::support::fake_slack::{FakeSlack, Fault};
    let slack = FakeSlack::start("hook-secret");
    slack.push_fault(Fault::AcceptThenDrop);
    let hook = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(hook.path(), slack.url_with("hook-secret")).unwrap();
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  team: {{ network: slack, webhook: \"file:{}\" }}\npeople:\n  olena: {{ notify: team, role: editor }}\n  vic: {{ notify: team }}\n",
        hook.path().display()
    );
    let dir = folder(
        &config,
        &[(
            "launch.yaml",
            "kind: campaign\nname: launch\nposts:\n  - id: hello\n    at: 2030-01-01 10:00\n    to: team\n    text: Hello\n",
        )],
    );
    let rig = Rig::start(dir).await;
    let olena = rig.desk.actor("olena").unwrap();
    let first = crier::ops::trigger::trigger(
        &rig.desk.plan.root,
        Arc::new(|_| {}),
        &olena,
        "launch",
        "hello",
        None,
    )
    .await
    .unwrap()
    .run
    .unwrap();
    // The running service may be the one that tried it: wait until it is recorded.
    let mut first = first;
    for _ in 0..600 {
        if first.outbox[0].state == crier::store::OutboxState::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        first = crier::ops::views::run(Some(&rig.desk.store), first.id)
            .unwrap()
            .unwrap();
    }
    assert!(
        crier::ops::trigger::unconfirmed(&first.outbox[0]),
        "{first:?}"
    );
    assert_eq!(slack.messages(), ["Hello"]);

    let editor = rig.sign_in("olena").await;
    let page = rig.page("/runs", &editor).await;
    assert!(page.contains("Check team for the post"), "{page}");
    assert!(
        page.contains(&format!("/runs/{}/send-again", first.id)),
        "{page}"
    );
    let viewer = rig.sign_in("vic").await;
    let page = rig.page("/runs", &viewer).await;
    assert!(
        !page.contains("send-again"),
        "a viewer is offered no button: {page}"
    );
    let path = format!("/runs/{}/send-again", first.id);
    let (status, _, _) = rig.post(&path, &viewer, &[("account", "team")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(slack.messages(), ["Hello"], "refused: nothing sent");

    let (status, location, body) = rig.post(&path, &editor, &[("account", "team")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, "/runs?done=sent_again");
    assert_eq!(slack.messages(), ["Hello", "Hello"]);
    let runs = crier::ops::views::runs_page(
        Some(&rig.desk.store),
        &crier::ops::views::RunsQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap()
    .runs;
    assert_eq!(runs.len(), 2);
    let again = runs.iter().find(|r| r.id != first.id).unwrap();
    assert_eq!(again.outbox[0].state, crier::store::OutboxState::Sent);
    // A confirmed send is not sent again.
    let refused = crier::ops::trigger::send_again(
        &rig.desk,
        Arc::new(|_| {}),
        &olena,
        again.id,
        "team",
        None,
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(crier::ops::trigger::SendAgainRefused::NotUnconfirmed { .. })
        ),
        "{refused:?}"
    );
    let (status, _, body) = rig
        .post(
            &format!("/runs/{}/send-again", again.id),
            &editor,
            &[("account", "team")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("only a send crier could not confirm"),
        "{body}"
    );
    assert_eq!(slack.messages(), ["Hello", "Hello"]);
    rig.stop().await;
}

/// A stop while "send again" renders a slow text: the render holds no async worker and is
/// cut short, so the service stops at once; the form is answered 503 (crier is stopping),
/// and no new run is stored or sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_send_again_renders_a_slow_text_answers_503_and_fires_nothing() {
    use crate::hostile::{QUICK_VARS, SLOW_TEXT, slow_vars};
    use crate::support::fake_slack::{FakeSlack, Fault};
    let slack = FakeSlack::start("hook-secret");
    slack.push_fault(Fault::AcceptThenDrop);
    let hook = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(hook.path(), slack.url_with("hook-secret")).unwrap();
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  team: {{ network: slack, webhook: \"file:{}\" }}\npeople:\n  olena: {{ notify: team, role: editor }}\n",
        hook.path().display()
    );
    let campaign = |vars: &str| {
        format!(
            "kind: campaign\nname: launch\nvars: {vars}\nposts:\n  - id: hello\n    at: 2030-01-01 10:00\n    to: team\n    text: '{SLOW_TEXT}'\n"
        )
    };
    let dir = folder(&config, &[("launch.yaml", &campaign(QUICK_VARS))]);
    let mut rig = Rig::start(dir).await;
    let olena = rig.desk.actor("olena").unwrap();
    let mut first = crier::ops::trigger::trigger(
        &rig.desk.plan.root,
        Arc::new(|_| {}),
        &olena,
        "launch",
        "hello",
        None,
    )
    .await
    .unwrap()
    .run
    .unwrap();
    for _ in 0..600 {
        if first.outbox[0].state == crier::store::OutboxState::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        first = crier::ops::views::run(Some(&rig.desk.store), first.id)
            .unwrap()
            .unwrap();
    }
    assert!(
        crier::ops::trigger::unconfirmed(&first.outbox[0]),
        "{first:?}"
    );
    let editor = rig.sign_in("olena").await;
    // "Send again" loads the files as they are now: its text is slow.
    std::fs::write(
        rig.desk.plan.root.join("launch.yaml"),
        campaign(&slow_vars()),
    )
    .unwrap();
    let request = rig
        .client
        .post(format!("{}/runs/{}/send-again", rig.base, first.id))
        .header("cookie", format!("crier_session={}", editor.session))
        .form(&[("csrf", editor.csrf.as_str()), ("account", "team")])
        .send();
    let answer = tokio::spawn(async move {
        let answer = request.await.ok()?;
        Some((answer.status(), answer.text().await.unwrap_or_default()))
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!answer.is_finished(), "sent again before its text rendered");
    let service = rig.service.take().unwrap();
    // A liveness bound, far below the render's length.
    tokio::time::timeout(Duration::from_secs(5), service.stop())
        .await
        .expect("the service stops within 5 s")
        .expect("the service stops cleanly");
    let (status, body) = answer
        .await
        .unwrap()
        .expect("the form was answered, not dropped");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("crier is stopping"), "{body}");
    let runs = crier::ops::views::runs_page(
        Some(&rig.desk.store),
        &crier::ops::views::RunsQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap()
    .runs;
    assert_eq!(runs.len(), 1, "a run was stored: {runs:?}");
    assert_eq!(slack.messages(), ["slow done"]);
}

/// The calendar marks a past post sent or failed from one lean read of the window's runs
/// (post, fire time, state), searched by fire time in its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_posts_are_marked_sent_or_failed_from_the_runs_of_their_window() {
    use chrono::{NaiveTime, TimeZone};
    let rig = Rig::start(folder(
        PEOPLE_CONFIG,
        &[(
            "daily.yaml",
            "kind: campaign\nname: news\nposts:\n  - { id: daily, cron: \"0 9 * * *\", to: demo, text: Every morning }\n",
        )],
    ))
    .await;
    let admin = rig.sign_in("ada").await;
    let kyiv = chrono_tz::Europe::Kyiv;
    let today = Utc::now().with_timezone(&kyiv).date_naive();
    let morning = |days_ago: i64| {
        let day = today - TimeDelta::days(days_ago);
        kyiv.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap()))
            .unwrap()
    };
    let (sent, failed, quiet) = (morning(3), morning(2), morning(4));
    {
        let path = rig._dir.path().join("crier.db");
        let db = rusqlite::Connection::open(path).unwrap();
        let revision: i64 = db
            .query_row("SELECT max(id) FROM revisions", [], |row| row.get(0))
            .unwrap();
        for (at, state) in [(sent, "succeeded"), (failed, "failed")] {
            db.execute(
                "INSERT INTO runs (playbook, item, fire_at, revision, state, reason, steps,
                                   current_step, created_at, updated_at)
                 VALUES ('news', 'daily', ?1, ?2, ?3, NULL, '[]', 0, ?1, ?1)",
                rusqlite::params![at.timestamp_millis(), revision, state],
            )
            .unwrap();
        }
    }
    let from = today - TimeDelta::days(5);
    let list = rig
        .page(&format!("/calendar?view=list&date={from}"), &admin)
        .await;
    let chip = |at: chrono::DateTime<chrono_tz::Tz>| {
        let encoded = at.to_rfc3339().replace(':', "%3A").replace('+', "%2B");
        list.split("<li class=\"post ")
            .find(|chip| chip.contains(&encoded))
            .unwrap_or_else(|| panic!("no post at {at}: {list}"))
            .to_string()
    };
    assert!(chip(sent).contains("mark-sent"), "{}", chip(sent));
    assert!(chip(failed).contains("mark-failed"), "{}", chip(failed));
    let quiet = chip(quiet);
    assert!(
        !quiet.contains("mark-sent") && !quiet.contains("mark-failed"),
        "{quiet}"
    );

    // The read: the window's runs only, oldest first; the statement searches the index.
    let marks = rig
        .desk
        .store
        .run_marks(failed.timestamp_millis() - 1, Utc::now().timestamp_millis())
        .unwrap();
    assert_eq!(
        marks
            .iter()
            .map(|m| (m.item.as_str(), m.fire_at, m.state))
            .collect::<Vec<_>>(),
        [(
            "daily",
            failed.timestamp_millis(),
            crier::store::RunState::Failed
        )]
    );
    let db = rusqlite::Connection::open(rig._dir.path().join("crier.db")).unwrap();
    let sql = include_str!("../src/store/sqlite/views/run_marks.sql");
    let mut explain = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let plan: Vec<String> = explain
        .query_map(rusqlite::params![0, 1], |row| row.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter().any(
            |line| line.starts_with("SEARCH runs USING INDEX runs_by_fire")
                && line.contains("fire_at>?")
                && line.contains("fire_at<?")
        ),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:?}");
    rig.stop().await;
}

/// A post's images are shown from the playbook folder, to people signed in, and only the
/// files its `media:` names inside that folder: not `../`, an absolute path or a symbolic
/// link leading out, nor a file that is no image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posts_images_are_served_from_its_folder_and_nothing_else() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), b"not yours").unwrap();
    let secret = outside.path().join("secret.png");
    let launch = (Utc::now() + TimeDelta::days(2)).format("%Y-%m-%d 10:00");
    let campaign = format!(
        "kind: campaign\nname: news\nposts:\n  - id: launch\n    at: \"{launch}\"\n    to: demo\n    text: Boots are here\n    media: [img/boots.png, \"../{}/secret.png\", \"{}\", img/link.png, notes.png]\n",
        outside.path().file_name().unwrap().to_str().unwrap(),
        secret.display(),
    );
    let dir = folder(PEOPLE_CONFIG, &[("news.yaml", &campaign)]);
    let png = b"\x89PNG\r\n\x1a\n a picture of boots".to_vec();
    std::fs::create_dir(dir.path().join("img")).unwrap();
    std::fs::write(dir.path().join("img/boots.png"), &png).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("img/link.png")).unwrap();
    std::fs::create_dir(dir.path().join("notes.png")).unwrap();
    let rig = Rig::start(dir).await;
    let image = |n: &str| format!("/calendar/image?playbook=news&item=launch&n={n}");

    // Not signed in: nothing.
    let (status, _, body) = rig.get(&image("0"), None, &[]).await;
    assert_ne!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("a picture of boots"));

    let ada = rig.sign_in("ada").await;
    let response = rig
        .client
        .get(format!("{}{}", rig.base, image("0")))
        .header("cookie", format!("crier_session={}", ada.session))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.unwrap().to_vec(), png);

    // Named by the playbook but leading out of its folder, or no image file: refused.
    for (n, status, says) in [
        ("1", StatusCode::FORBIDDEN, "outside the playbook folder"),
        ("2", StatusCode::FORBIDDEN, "outside the playbook folder"),
        ("3", StatusCode::FORBIDDEN, "outside the playbook folder"),
        ("4", StatusCode::UNSUPPORTED_MEDIA_TYPE, "is not a JPEG"),
        ("5", StatusCode::NOT_FOUND, "has no image 5"),
    ] {
        let (got, _, body) = rig.get(&image(n), Some(&ada), &[]).await;
        assert_eq!(got, status, "image {n}: {body}");
        assert!(body.contains(says), "image {n}: {body}");
        assert!(!body.contains("not yours"), "image {n}: {body}");
    }
    // The address names a post and a number, never a path.
    for path in [
        "/calendar/image?playbook=..&item=..&n=0",
        "/calendar/image?playbook=news&item=launch&n=..%2Fsecret.png",
    ] {
        let (got, _, body) = rig.get(path, Some(&ada), &[]).await;
        assert_ne!(got, StatusCode::OK, "{path}: {body}");
        assert!(!body.contains("not yours"), "{path}: {body}");
    }

    // The detail shows them as thumbnails, in the list and in each network's preview.
    let at = chrono::NaiveDateTime::parse_from_str(&format!("{launch}:00"), "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_local_timezone(chrono_tz::Europe::Kyiv)
        .unwrap()
        .to_rfc3339();
    let detail = rig
        .page(
            &format!(
                "/calendar/post?playbook=news&item=launch&at={}",
                at.replace(':', "%3A").replace('+', "%2B")
            ),
            &ada,
        )
        .await
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let thumbnail =
        "<img src=\"/calendar/image?playbook=news&item=launch&n=0\" alt=\"img/boots.png\"";
    assert!(detail.contains(thumbnail), "{detail}");
    assert!(
        detail
            .contains("<img class=\"media\" src=\"/calendar/image?playbook=news&item=launch&n=0\""),
        "{detail}"
    );
    rig.stop().await;
}
