//! The dashboard's incidents and contests pages over HTTP, on the quickstart: the open
//! incident with its level, timeline and the report's mentions chart, acknowledged through
//! its form (and a form without the session's CSRF token refused, nothing recorded), its
//! report downloaded; the giveaway's phase timeline and its entries with the rule that left
//! each out and why; all of them in Russian with no English left but their data.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::crisis::runner::RunnerState;
use crier::crisis::{IncidentReport, LevelMark, MinuteCount, TimelineEntry};
use crier::engine::service::Service;
use crier::ops::{Desk, sessions};
use crier::store::{Batch, CrisisWrite, IncidentRow, to_millis};
use reqwest::redirect::Policy;

use crate::support::pages::english_left;
use crate::support::playbooks::quickstart_copy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_and_contests_pages_show_and_act() {
    let dir = quickstart_copy();
    let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .unwrap();
    let view = service.view();
    let plan = view.plan().unwrap();
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{bound}");
    let desk = Desk::new(plan.clone(), view.store());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(Policy::none())
        .build()
        .unwrap();
    let now = Utc::now();
    let admin = desk.actor("pr_lead").unwrap();
    let link = sessions::issue_link(&desk, &admin, TimeDelta::minutes(5), now).unwrap();
    let session = sessions::sign_in_with_link(&desk, &link.secret, now)
        .unwrap()
        .unwrap();
    let cookie = format!("crier_session={}", session.secret);
    let get = |path: String| {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = format!("{base}{path}");
        async move {
            let response = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await.unwrap().replace("&#x2f;", "/");
            (status, headers, body)
        }
    };
    let russian = |path: &'static str| {
        let (client, cookie) = (client.clone(), format!("{cookie}; crier_lang=ru"));
        let url = format!("{base}{path}");
        async move {
            let response = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.text().await.unwrap();
            (status, headers, body)
        }
    };

    // An incident of the outage plan, as the service stores one.
    let opened = to_millis(now) - 600_000;
    let report = IncidentReport {
        id: 7,
        plan: "service-outage".into(),
        signal_at: opened - 60_000,
        opened_at: opened,
        acknowledged_at: None,
        acknowledged_by: None,
        responded_at: None,
        resolved_at: None,
        resolved_by: None,
        level: "critical".into(),
        levels: vec![LevelMark {
            at: opened,
            level: "critical".into(),
        }],
        approvals: vec![],
        timeline: vec![TimelineEntry {
            at: opened,
            actor: "crisis:service-outage".into(),
            kind: "level".into(),
            detail: "entered critical: 24 negative mentions in 30 min".into(),
        }],
        mentions: (0..5)
            .map(|i| MinuteCount {
                at: opened - 240_000 + i * 60_000,
                total: 5 + i as u64,
                negative: 4 + i as u64,
            })
            .collect(),
        timezone: "Europe/Kyiv".into(),
    };
    desk.store
        .commit(&Batch {
            now: to_millis(now),
            crisis: vec![CrisisWrite {
                plan: "service-outage-archive".into(),
                state: serde_json::to_string(&RunnerState::default()).unwrap(),
                incidents: vec![IncidentRow {
                    id: 7,
                    plan: "service-outage".into(),
                    status: "open".into(),
                    level: "critical".into(),
                    opened_at: opened,
                    resolved_at: None,
                    report: serde_json::to_string(&report).unwrap(),
                }],
                applied: vec![],
                forget_mentions_before: None,
            }],
            ..Batch::default()
        })
        .unwrap();

    let (status, _, page) = get("/incidents".into()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("href=\"/incidents/7\""), "{page}");
    assert!(
        page.contains("service-outage") && page.contains("critical"),
        "{page}"
    );
    let (status, _, page) = get("/incidents/7".into()).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("aria-label=\"Mentions per minute\""),
        "{page}"
    );
    assert!(page.contains("<polyline"), "the report's chart: {page}");
    assert!(page.contains("24 negative mentions in 30 min"), "{page}");
    assert!(page.contains("value=\"ack\""), "{page}");
    // In Russian, nothing but the incident's own records is left in English.
    let incident_data = [
        "service-outage",
        "critical",
        "crisis:service-outage",
        "entered critical: 24 negative mentions in 30 min",
        "pr_lead",
        "Europe/Kyiv",
    ];
    for path in ["/incidents", "/incidents/7"] {
        let (status, _, page) = russian(path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains("<html lang=\"ru\">"), "{path}");
        assert_eq!(
            english_left(&page, &incident_data),
            Vec::<String>::new(),
            "{path}: {page}"
        );
    }
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();

    // Without the session's CSRF token: refused, nothing recorded.
    let act = |form: Vec<(&'static str, String)>| {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = format!("{base}/incidents/7/act");
        async move {
            let response = client
                .post(url)
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (status, location, response.text().await.unwrap())
        }
    };
    let (status, _, _) = act(vec![("csrf", "forged".into()), ("action", "ack".into())]).await;
    assert_eq!(status, 403);
    // (Action ids count from 1 in a new store; the service may apply one at any time.)
    assert!(desk.store.incident_action(1).unwrap().is_none());
    let (status, location, body) =
        act(vec![("csrf", csrf.clone()), ("action", "ack".into())]).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(location.as_deref(), Some("/incidents/7?done=recorded"));
    let recorded = desk.store.incident_action(1).unwrap().expect("recorded");
    assert_eq!(recorded.incident, 7);
    assert!(recorded.action.contains("pr_lead"), "{recorded:?}");

    let (status, headers, report) = get("/incidents/7/report/md".into()).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("incident-7.md")
    );
    assert!(report.contains("service-outage"), "{report}");

    // The giveaway: its phases, and entries with the rule that left each out.
    let contest = plan
        .contests
        .iter()
        .find(|c| c.name == "december-giveaway")
        .unwrap();
    let entry = |id: &str, author: &str, text: &str| -> crier::contest::Entry {
        serde_json::from_value(serde_json::json!({
            "network": "mastodon", "id": id, "author_id": author, "author": author,
            "follows_us": true, "account_created": "2020-01-01T00:00:00Z",
            "text": text, "at": (contest.announce_at + TimeDelta::minutes(5)).to_rfc3339(),
        }))
        .unwrap()
    };
    crier::contest::lifecycle::add_entries(
        desk.store.as_ref(),
        contest,
        vec![
            entry("1", "@kate@mastodon.social", "I'd love one #warmwinter"),
            entry(
                "2",
                "@spam@mastodon.social",
                "#warmwinter http://spam.example",
            ),
        ],
        now,
    )
    .unwrap();
    let (status, _, page) = get("/contests".into()).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("href=\"/contests/december-giveaway\""),
        "{page}"
    );
    let (status, _, page) = get("/contests/december-giveaway".into()).await;
    assert_eq!(status, 200, "{page}");
    for text in [
        "Announced",
        "Entries close",
        "Draw",
        "@kate@mastodon.social",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    // Not announced yet here: neither answers the announcement, which `from: replies` needs.
    assert!(page.contains("left out by from"), "{page}");
    assert!(page.contains("not a reply to the announcement"), "{page}");
    assert!(page.contains("2 entries, 0 eligible"), "{page}");
    assert!(page.contains("2 left out by from"), "{page}");
    let contest_data = [
        "december-giveaway",
        "@kate@mastodon.social",
        "I'd love one #warmwinter",
        "@spam@mastodon.social",
        "#warmwinter http://spam.example",
        "not a reply to the announcement",
        "from",
        "pr_lead",
        "Europe/Kyiv",
    ];
    for path in ["/contests", "/contests/december-giveaway"] {
        let (status, _, page) = russian(path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains("<html lang=\"ru\">"), "{path}");
        assert_eq!(
            english_left(&page, &contest_data),
            Vec::<String>::new(),
            "{path}: {page}"
        );
    }
    let (status, _, _) = get("/contests/no-such-contest".into()).await;
    assert_eq!(status, 404);
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .unwrap()
        .unwrap();
}
