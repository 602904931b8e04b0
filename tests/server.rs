//! The HTTP server of `crier run`: serving inside the service's lifecycle, tokens and roles
//! (401 and 403, nothing changed either way), the API's answers checked against its own
//! OpenAPI document, the CLI and the API agreeing on one store, and the event stream.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::engine::service::{Service, ServiceHandle};
use crier::ops::{Desk, tokens};
use crier::store::{SqliteStore, Store, to_millis};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::playbooks::{PEOPLE_CONFIG, approval_campaign, folder};

struct Rig {
    dir: TempDir,
    service: Option<ServiceHandle>,
    base: String,
    client: reqwest::Client,
    desk: Desk,
}

impl Rig {
    async fn start(files: &[(&str, &str)]) -> Rig {
        Rig::start_with(PEOPLE_CONFIG, files).await
    }

    async fn start_with(config: &str, files: &[(&str, &str)]) -> Rig {
        let dir = folder(config, files);
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
            dir,
            service: Some(service),
            base: format!("http://{bound}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            desk: Desk::new(plan, view.store()),
        }
    }

    /// A token for `person`, valid for an hour.
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

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, content_type, value)
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, _, body) = self.call("GET", path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn stop(mut self) {
        let service = self.service.take().unwrap();
        tokio::time::timeout(Duration::from_secs(60), service.stop())
            .await
            .expect("the service stops within a minute")
            .expect("the service stops cleanly");
    }
}

/// Everything an action could change, to compare before and after a refused one.
fn snapshot(store: &dyn Store) -> String {
    let now = to_millis(Utc::now());
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        store.pauses(now).unwrap(),
        store.approvals(false).unwrap(),
        store.tokens().unwrap(),
        // The runs there are, not their states: the service moves its own runs on (the
        // approval's notice is sent) whatever the refused calls do.
        store
            .history(&Default::default())
            .unwrap()
            .iter()
            .map(|r| (r.id, r.playbook.clone(), r.item.clone()))
            .collect::<Vec<_>>(),
        store.incidents().unwrap(),
    )
}

/// Waits (bounded) until the service has opened the approval of `news/launch`.
async fn approval_opened(rig: &Rig, token: &str) -> i64 {
    for _ in 0..600 {
        let list = rig.get("/api/v1/approvals", token).await;
        if let Some(id) = list
            .as_array()
            .unwrap()
            .first()
            .map(|a| a["id"].as_i64().unwrap())
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the approval of news/launch was never opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_health_and_readiness_and_stops_with_the_service() {
    let rig = Rig::start(&[("news.yaml", &approval_campaign())]).await;
    let (status, _, body) = rig.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
    let (status, _, body) = rig.call("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
    let (status, content_type, body) = rig.call("GET", "/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], 404);

    // A body over the limit is refused before anything reads it.
    let token = rig.token("ada");
    let big = "x".repeat(2 * 1024 * 1024);
    let response = rig
        .client
        .post(format!("{}/api/v1/pauses", rig.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"all\":true,\"reason\":\"{big}\"}}"))
        .send()
        .await;
    // The server answers as soon as the declared length is over the limit, and may close
    // the connection before the client has written the rest.
    if let Ok(response) = response {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert!(
        rig.desk
            .store
            .pauses(to_millis(Utc::now()))
            .unwrap()
            .is_empty()
    );

    // An open event stream does not hold the stop up: it ends with the service.
    let mut stream = rig
        .client
        .get(format!("{}/api/v1/events", rig.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let base = rig.base.clone();
    rig.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream outlived the service");
    let after = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(after.is_err(), "the server still answers after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_before_the_service_stops() {
    // A webhook receiver that takes its time: the trigger's send is in flight while the
    // service is asked to stop.
    let (received, mut arrived) = tokio::sync::mpsc::channel::<()>(4);
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_address = sink.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let received = received.clone();
            async move {
                let _ = received.send(()).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                r#"{"id":"slow-1"}"#
            }
        }),
    );
    tokio::spawn(async move { axum::serve(sink, app).await.unwrap() });
    let config = PEOPLE_CONFIG.replace(
        "  demo: { network: console }\n",
        &format!("  demo: {{ network: console }}\n  hook: {{ network: webhook, url: \"http://{sink_address}/\" }}\n"),
    );
    let rig = Rig::start_with(
        &config,
        &[(
            "slow.yaml",
            "kind: campaign\nname: slow\nposts:\n  - { id: now, at: 2030-01-01 10:00, to: hook, text: slow }\n",
        )],
    )
    .await;
    let ed = rig.token("ed");
    let request = rig
        .client
        .post(format!("{}/api/v1/trigger", rig.base))
        .bearer_auth(&ed)
        .json(&json!({ "playbook": "slow", "item": "now" }))
        .send();
    let pending = tokio::spawn(async move {
        let response = request.await.expect("an answer, not a dropped connection");
        (response.status(), response.text().await.unwrap())
    });
    tokio::time::timeout(Duration::from_secs(60), arrived.recv())
        .await
        .expect("the send reached the receiver");
    let store = rig.desk.store.clone();
    rig.stop().await;
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["run"]["sends"][0]["state"], "sent", "{answer}");
    assert_eq!(answer["run"]["sends"][0]["remote_id"], "slow-1");
    let runs = store.history(&Default::default()).unwrap();
    assert_eq!(runs[0].outbox[0].remote_id.as_deref(), Some("slow-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_refuses_a_missing_or_bad_token_and_a_role_that_does_not_allow_it() {
    let rig = Rig::start(&[("news.yaml", &approval_campaign())]).await;
    let vera = rig.token("vera");
    let ed = rig.token("ed");
    let ada = rig.token("ada");
    let approval = approval_opened(&rig, &vera).await;

    let expired = {
        let actor = rig.desk.actor("ada").unwrap();
        let long_ago = Utc::now() - TimeDelta::days(2);
        tokens::issue(&rig.desk, &actor, "old", Some(TimeDelta::days(1)), long_ago)
            .unwrap()
            .secret
    };
    let revoked = {
        let actor = rig.desk.actor("ada").unwrap();
        let issued = tokens::issue(&rig.desk, &actor, "gone", None, Utc::now()).unwrap();
        tokens::revoke(&rig.desk, issued.token.id, Utc::now()).unwrap();
        issued.secret
    };
    let bad_tokens = [
        None,
        Some("crier_not-a-token-anyone-made"),
        Some(expired.as_str()),
        Some(revoked.as_str()),
    ];
    let approve = format!("/api/v1/approvals/{approval}/approve");
    let reject = format!("/api/v1/approvals/{approval}/reject");
    // Each action, its body, and the token of someone whose role (or place) does not allow it.
    let actions: Vec<(String, Value, Option<&str>)> = vec![
        (approve.clone(), json!({}), Some(ed.as_str())),
        (reject.clone(), json!({ "note": "no" }), Some(ada.as_str())),
        (
            "/api/v1/pauses".into(),
            json!({ "all": true, "reason": "storm" }),
            Some(ed.as_str()),
        ),
        (
            "/api/v1/pauses/resume".into(),
            json!({ "all": true }),
            Some(vera.as_str()),
        ),
        (
            "/api/v1/trigger".into(),
            json!({ "playbook": "news", "item": "hourly" }),
            Some(vera.as_str()),
        ),
        ("/api/v1/incidents/1/ack".into(), json!({}), None),
        ("/api/v1/incidents/1/approve".into(), json!({}), None),
        (
            "/api/v1/incidents/1/reject".into(),
            json!({ "note": "no" }),
            None,
        ),
        ("/api/v1/incidents/1/resolve".into(), json!({}), None),
        (
            "/api/v1/contests/spring/disqualify".into(),
            json!({ "entry": "console:1", "reason": "fake" }),
            Some(vera.as_str()),
        ),
        (
            "/api/v1/tokens".into(),
            json!({ "person": "vera" }),
            Some(ed.as_str()),
        ),
        (
            "/api/v1/tokens/1/revoke".into(),
            json!({}),
            Some(ed.as_str()),
        ),
    ];
    let before = snapshot(rig.desk.store.as_ref());
    for (path, body, forbidden) in &actions {
        for token in bad_tokens {
            let (status, content_type, answer) =
                rig.call("POST", path, token, Some(body.clone())).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "POST {path} with {token:?}: {answer}"
            );
            assert_eq!(content_type, "application/problem+json");
            assert!(
                answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{answer}"
            );
        }
        if let Some(token) = forbidden {
            let (status, _, answer) = rig
                .call("POST", path, Some(token), Some(body.clone()))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "POST {path}: {answer}");
        }
    }
    assert_eq!(
        snapshot(rig.desk.store.as_ref()),
        before,
        "a refused call changed the store"
    );

    // The refusals say why in plain words.
    let (_, _, answer) = rig
        .call(
            "POST",
            "/api/v1/pauses",
            Some(&ed),
            Some(json!({ "all": true, "reason": "storm" })),
        )
        .await;
    assert_eq!(
        answer["detail"],
        "ed is an editor; pausing and resuming needs the admin role (set `role:` in crier.yaml's `people:`)"
    );
    let (_, _, answer) = rig.call("POST", &approve, Some(&ed), Some(json!({}))).await;
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("its approvers are vera"),
        "{answer}"
    );
    let (_, _, answer) = rig
        .call("GET", "/api/v1/status", Some(&expired), None)
        .await;
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .starts_with("the token expired at"),
        "{answer}"
    );

    // Allowed, each action is recorded as done by the token's person.
    let (status, _, answer) = rig
        .call(
            "POST",
            &approve,
            Some(&vera),
            Some(json!({ "note": "fine" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["decisions"][0]["by"], "vera");
    let (status, _, answer) = rig
        .call(
            "POST",
            "/api/v1/pauses",
            Some(&ada),
            Some(json!({ "campaigns": ["news"], "reason": "storm" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer[0]["by"], "ada");
    let (status, _, answer) = rig
        .call(
            "POST",
            "/api/v1/trigger",
            Some(&ed),
            Some(json!({ "playbook": "news", "item": "hourly" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["run"]["reason"], "triggered by hand by ed");
    rig.stop().await;
}

/// The schema the document gives for `method path`'s `status` answer, with the document's
/// components beside it so its references resolve.
fn schema_of(document: &Value, path: &str, method: &str, status: u16) -> Value {
    let content = &document["paths"][path][method]["responses"][status.to_string()]["content"];
    let media = content
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documents no {status} answer"))
        .values()
        .next()
        .unwrap();
    json!({ "components": document["components"], "allOf": [media["schema"]] })
}

fn assert_valid(document: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let schema = schema_of(document, path, method, status);
    let validator = jsonschema::validator_for(&schema).expect("the document's schema compiles");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) does not match its schema: {errors:?}\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_real_answers() {
    let rig = Rig::start(&[("news.yaml", &approval_campaign())]).await;
    let ada = rig.token("ada");
    let vera = rig.token("vera");
    let (status, _, document) = rig.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let approval = approval_opened(&rig, &vera).await;

    // Actions first, so the views have something to show.
    let (status, _, body) = rig
        .call(
            "POST",
            "/api/v1/trigger",
            Some(&ada),
            Some(json!({ "playbook": "news", "item": "hourly" })),
        )
        .await;
    assert_valid(&document, "/api/v1/trigger", "post", status.as_u16(), &body);
    let run_id = body["run"]["id"].as_i64().unwrap();
    let (status, _, body) = rig
        .call(
            "POST",
            "/api/v1/pauses",
            Some(&ada),
            Some(json!({ "accounts": ["demo"], "reason": "storm", "until": "2099-01-01" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_valid(&document, "/api/v1/pauses", "post", 201, &body);
    let (status, _, body) = rig
        .call(
            "POST",
            &format!("/api/v1/approvals/{approval}/approve"),
            Some(&vera),
            Some(json!({})),
        )
        .await;
    assert_valid(
        &document,
        "/api/v1/approvals/{reference}/approve",
        "post",
        status.as_u16(),
        &body,
    );
    let (status, _, body) = rig
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&ada),
            Some(json!({ "person": "vera", "name": "phone", "expires": "90d" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_valid(&document, "/api/v1/tokens", "post", 201, &body);

    let views = [
        ("/healthz", "/healthz".to_string()),
        ("/readyz", "/readyz".to_string()),
        ("/api/v1/plan", "/api/v1/plan?days=2".to_string()),
        ("/api/v1/status", "/api/v1/status".to_string()),
        ("/api/v1/runs", "/api/v1/runs?limit=1".to_string()),
        ("/api/v1/runs/{id}", format!("/api/v1/runs/{run_id}")),
        ("/api/v1/sends", "/api/v1/sends?account=demo".to_string()),
        (
            "/api/v1/approvals",
            "/api/v1/approvals?all=true".to_string(),
        ),
        ("/api/v1/pauses", "/api/v1/pauses".to_string()),
        (
            "/api/v1/incidents",
            "/api/v1/incidents?all=true".to_string(),
        ),
        ("/api/v1/contests", "/api/v1/contests".to_string()),
        (
            "/api/v1/accounts/check",
            "/api/v1/accounts/check".to_string(),
        ),
        ("/api/v1/tokens", "/api/v1/tokens".to_string()),
    ];
    for (template, path) in views {
        let (status, _, body) = rig.call("GET", &path, Some(&ada), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        assert_valid(&document, template, "get", 200, &body);
    }
    let runs = rig.get("/api/v1/runs?limit=1", &ada).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    let next = runs["next"].as_str().expect("a second page");
    let second = rig
        .get(&format!("/api/v1/runs?limit=1&cursor={next}"), &ada)
        .await;
    assert_ne!(second["runs"][0]["id"], runs["runs"][0]["id"]);

    // Refusals are problems as documented.
    let refusals = [
        ("/api/v1/runs/{id}", "/api/v1/runs/999999", 404),
        ("/api/v1/incidents/{id}", "/api/v1/incidents/7", 404),
        ("/api/v1/runs", "/api/v1/runs?cursor=nonsense", 400),
        ("/api/v1/plan", "/api/v1/plan?days=2147483648", 400),
        ("/api/v1/status", "/api/v1/status", 401),
    ];
    for (template, path, expected) in refusals {
        let token = (expected != 401).then_some(ada.as_str());
        let (status, _, body) = rig.call("GET", path, token, None).await;
        assert_eq!(status.as_u16(), expected, "GET {path}: {body}");
        assert_valid(&document, template, "get", expected, &body);
    }
    rig.stop().await;
}

fn crier(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .arg("-C")
        .arg(dir)
        .output()
        .expect("run crier")
}

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A post a hook fires cannot be triggered by hand (it needs the event its text reads): the
/// API says so in the CLI's words, as 422, and fires nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggering_a_hook_post_is_refused_as_unprocessable_and_fires_nothing() {
    let keys = TempDir::new().unwrap();
    let key = keys.path().join("review.key");
    std::fs::write(&key, "review-signing-key\n").unwrap();
    let reviews = format!(
        "kind: campaign\nname: reviews\nhooks:\n  new-review: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: new-review }}\n    to: demo\n    text: \"Thank you, {{{{ event.author }}}}!\"\n",
        key.display()
    );
    let rig = Rig::start(&[("reviews.yaml", &reviews)]).await;
    let ed = rig.token("ed");
    let (_, _, document) = rig.call("GET", "/api/v1/openapi.json", None, None).await;
    let before = snapshot(rig.desk.store.as_ref());
    let (status, content_type, body) = rig
        .call(
            "POST",
            "/api/v1/trigger",
            Some(&ed),
            Some(json!({ "playbook": "reviews", "item": "thanks" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("is fired by hook `new-review`"), "{detail}");
    assert_valid(&document, "/api/v1/trigger", "post", 422, &body);
    assert_eq!(snapshot(rig.desk.store.as_ref()), before);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_api_give_the_same_results_for_one_store() {
    let rig = Rig::start(&[("news.yaml", &approval_campaign())]).await;
    let ada = rig.token("ada");
    approval_opened(&rig, &ada).await;
    rig.call(
        "POST",
        "/api/v1/trigger",
        Some(&ada),
        Some(json!({ "playbook": "news", "item": "hourly" })),
    )
    .await;
    let dir = rig.dir.path().to_path_buf();

    let window = ["--from", "2027-03-01 00:00", "--until", "2027-03-02 00:00"];
    let cli = json_lines(&crier(
        &dir,
        &[&["plan", "--format", "json"][..], &window[..]].concat(),
    ));
    let api = rig
        .get(
            "/api/v1/plan?from=2027-03-01%2000:00&until=2027-03-02%2000:00",
            &ada,
        )
        .await;
    assert_eq!(cli.len(), 24, "{cli:?}");
    assert_eq!(Value::Array(cli), api);

    let cli = json_lines(&crier(&dir, &["history", "--format", "json"]));
    let api = rig.get("/api/v1/runs", &ada).await;
    let fields = |run: &Value| {
        json!([
            run["id"],
            run["playbook"],
            run["item"],
            run["state"],
            run["reason"],
            run["fire_at"]
        ])
    };
    assert_eq!(
        cli.iter().map(fields).collect::<Vec<_>>(),
        api["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(fields)
            .collect::<Vec<_>>()
    );

    let cli = json_lines(&crier(&dir, &["approvals", "--format", "json"]));
    let api = rig.get("/api/v1/approvals", &ada).await;
    let fields = |a: &Value| {
        json!([
            a["id"],
            a["state"],
            a["fire_at"],
            a["deadline"],
            a["text"],
            a["approvers"]
        ])
    };
    assert_eq!(
        cli.iter().map(fields).collect::<Vec<_>>(),
        api.as_array()
            .unwrap()
            .iter()
            .map(fields)
            .collect::<Vec<_>>()
    );

    // A refusal says the same thing through either front end.
    let (status, _, answer) = rig
        .call(
            "POST",
            "/api/v1/pauses",
            Some(&ada),
            Some(json!({ "campaigns": ["nwes"], "reason": "storm" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let detail = answer["detail"].as_str().unwrap();
    assert_eq!(detail, "unknown campaign `nwes`; did you mean `news`?");
    let refused = crier(
        &dir,
        &[
            "pause",
            "--campaign",
            "nwes",
            "--reason",
            "storm",
            "--by",
            "ada",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(detail));
    rig.stop().await;
}

/// The events of `text/event-stream` text, as (id, event, data).
fn parse_events(text: &str) -> Vec<(Option<String>, String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line
                    .strip_prefix("id: ")
                    .or_else(|| line.strip_prefix("id:"))
                {
                    id = Some(v.to_string());
                } else if let Some(v) = line
                    .strip_prefix("event: ")
                    .or_else(|| line.strip_prefix("event:"))
                {
                    event = Some(v.to_string());
                } else if let Some(v) = line
                    .strip_prefix("data: ")
                    .or_else(|| line.strip_prefix("data:"))
                {
                    data.push_str(v);
                }
            }
            event.map(|e| (id, e, data))
        })
        .collect()
}

/// Reads the stream `path` asks for (from `last`) until `enough` holds (bounded).
async fn read_events(
    rig: &Rig,
    token: &str,
    last: Option<&str>,
    enough: impl Fn(&[(Option<String>, String, String)]) -> bool,
) -> Vec<(Option<String>, String, String)> {
    let mut request = rig
        .client
        .get(format!("{}/api/v1/events", rig.base))
        .bearer_auth(token);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = response.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if enough(&parse_events(&text)) {
                return;
            }
        }
    })
    .await;
    let events = parse_events(&text);
    assert!(
        read.is_ok(),
        "not enough events within a minute: {events:?}"
    );
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_resumes_after_the_last_event_id() {
    let at = (Utc::now() + TimeDelta::seconds(4)).format("%Y-%m-%d %H:%M:%S");
    let calendar = format!("at,to,text\n{at},demo,first\n{at},demo,second\n");
    let rig = Rig::start(&[
        ("soon.csv", calendar.as_str()),
        ("soon.yaml", "kind: campaign\nname: soon\ntimezone: UTC\nposts:\n  - calendar: soon.csv\n    missed: all\n"),
    ])
    .await;
    let vera = rig.token("vera");
    let sent = |events: &[(Option<String>, String, String)]| {
        events.iter().filter(|(_, e, _)| e == "sent").count() >= 2
    };
    let live = read_events(&rig, &vera, None, sent).await;
    let ids: Vec<u64> = live
        .iter()
        .map(|(id, _, _)| {
            id.as_deref()
                .expect("every event has an id")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let (_, _, data) = live.iter().find(|(_, e, _)| e == "sent").unwrap();
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(data["playbook"], "soon");
    assert!(data["run"].as_i64().is_some(), "{data}");

    // Reconnecting after the first event gets the rest, and nothing twice.
    let first = ids[0].to_string();
    let resumed = read_events(&rig, &vera, Some(&first), |events| {
        events.len() >= ids.len() - 1
    })
    .await;
    let resumed_ids: Vec<u64> = resumed
        .iter()
        .map(|(id, _, _)| id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(resumed_ids, ids[1..].to_vec());

    // An id from before the server started: what was missed is unknown, so `reset`.
    let old = read_events(&rig, &vera, Some("1"), |events| !events.is_empty()).await;
    assert_eq!(old[0].1, "reset");

    // People's actions through the API are events too, saying who.
    let ada = rig.token("ada");
    let (status, _, _) = rig
        .call(
            "POST",
            "/api/v1/pauses",
            Some(&ada),
            Some(json!({ "all": true, "reason": "storm" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let last = ids.last().unwrap().to_string();
    let after = read_events(&rig, &vera, Some(&last), |events| {
        events.iter().any(|(_, e, _)| e == "paused")
    })
    .await;
    let (_, _, data) = after.iter().find(|(_, e, _)| e == "paused").unwrap();
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        (data["by"].as_str(), data["scope"].as_str()),
        (Some("ada"), Some("everything"))
    );
    rig.stop().await;
}

#[test]
fn crier_run_prints_the_address_it_serves_and_stops_on_sigint() {
    let dir = folder(PEOPLE_CONFIG, &[("news.yaml", &approval_campaign())]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let address = loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("crier run says where it serves");
        if let Some(address) = line.strip_prefix("serving the API on ") {
            break address.to_string();
        }
    };
    assert_eq!(blocking_status(&format!("{address}/healthz")), 200);
    crate::support::service::stop(child);
}

#[test]
fn crier_run_refuses_an_address_it_cannot_serve_on() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = folder(PEOPLE_CONFIG, &[("news.yaml", &approval_campaign())]);
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.path().to_str().unwrap(), "--listen", &address])
        .env("CRIER_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("cannot serve the API on {address}")),
        "{text}"
    );
}

/// The status of a GET, from a thread of its own (a plain test has no runtime).
fn blocking_status(url: &str) -> u16 {
    let url = url.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                reqwest::get(url)
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_cors_headers_only_for_the_origins_configured() {
    let config = format!("{PEOPLE_CONFIG}server:\n  cors: [\"https://dash.example.com\"]\n");
    let dir = folder(&config, &[("news.yaml", &approval_campaign())]);
    let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .unwrap();
    let plan = service.view().plan().unwrap();
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let allowed = |origin: &'static str| {
        let request = client
            .get(format!("http://{bound}/healthz"))
            .header("Origin", origin)
            .send();
        async move {
            request
                .await
                .unwrap()
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string())
        }
    };
    assert_eq!(
        allowed("https://dash.example.com").await.as_deref(),
        Some("https://dash.example.com")
    );
    assert_eq!(allowed("https://evil.example.com").await, None);
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .unwrap()
        .unwrap();

    // Without `cors:`, no origin gets the header.
    let rig = Rig::start(&[("news.yaml", &approval_campaign())]).await;
    let answer = rig
        .client
        .get(format!("{}/healthz", rig.base))
        .header("Origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    rig.stop().await;
}

#[test]
fn the_server_settings_and_roles_are_checked_where_they_are_written() {
    let dir = folder(
        "timezone: UTC\naccounts:\n  demo: { network: console }\npeople:\n  vera: { notify: demo, role: boss }\nserver:\n  listen: localhost\n  cors: [\"https://dash.example.com/app\"]\n",
        &[],
    );
    let out = crier(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("`listen` must be an IP address and a port, found `localhost`"),
        "{text}"
    );
    assert!(
        text.contains("a CORS origin is a scheme and a host"),
        "{text}"
    );
    assert!(text.contains("boss"), "{text}");
}

#[test]
fn tokens_are_made_once_listed_and_revoked_from_the_cli() {
    let dir = folder(PEOPLE_CONFIG, &[]);
    let made = crier(
        dir.path(),
        &[
            "token",
            "new",
            "ada",
            "--name",
            "laptop",
            "--expires",
            "90d",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let secret = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert!(
        secret.starts_with(tokens::PREFIX) && secret.len() > 40,
        "{secret}"
    );
    // Only its hash is kept: the store file does not hold the token.
    let stored = std::fs::read(dir.path().join("crier.db")).unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));

    let listed = json_lines(&crier(dir.path(), &["token", "list", "--format", "json"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["person"].as_str(), listed[0]["name"].as_str()),
        (Some("ada"), Some("laptop"))
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(listed[0]["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&Utc) - Utc::now()).num_hours();
    assert!((89 * 24..=90 * 24).contains(&days), "{days} hours");

    let unknown = crier(dir.path(), &["token", "new", "adaa"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `ada`?"));

    assert!(
        crier(dir.path(), &["token", "revoke", "1"])
            .status
            .success()
    );
    let again = crier(dir.path(), &["token", "revoke", "1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("token 1 was revoked already"));
}

#[test]
fn tokens_behave_alike_in_both_stores() {
    let (_dir, plan) = crate::support::playbooks::valid_plan(PEOPLE_CONFIG, &[]);
    let file = TempDir::new().unwrap();
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(SqliteStore::in_memory().unwrap()),
        Arc::new(crier::store::SqliteStore::open(&file.path().join("crier.db")).unwrap()),
    ];
    let now = Utc::now();
    let mut seen = Vec::new();
    for store in stores {
        let desk = Desk::new(plan.clone(), store);
        let ada = desk.actor("ada").unwrap();
        let first = tokens::issue(&desk, &ada, "laptop", Some(TimeDelta::hours(1)), now).unwrap();
        let second = tokens::issue(&desk, &ada, "phone", None, now).unwrap();
        let header = |secret: &str| format!("Bearer {secret}");
        let actor = tokens::authenticate(&desk, Some(&header(&first.secret)), now).unwrap();
        assert_eq!(actor.unwrap().name(), "ada");
        let later = now + TimeDelta::hours(2);
        let expired = tokens::authenticate(&desk, Some(&header(&first.secret)), later).unwrap();
        assert!(
            matches!(expired, Err(tokens::Unauthorized::Expired { .. })),
            "{expired:?}"
        );
        tokens::revoke(&desk, second.token.id, now).unwrap();
        let revoked = tokens::authenticate(&desk, Some(&header(&second.secret)), now).unwrap();
        assert!(
            matches!(revoked, Err(tokens::Unauthorized::Revoked { .. })),
            "{revoked:?}"
        );
        assert!(matches!(
            tokens::revoke(&desk, second.token.id, now),
            Err(tokens::TokenError::RevokedAlready { .. })
        ));
        assert!(matches!(
            tokens::revoke(&desk, 9, now),
            Err(tokens::TokenError::Unknown { id: 9 })
        ));
        assert_eq!(
            tokens::authenticate(&desk, Some("Basic abc"), now).unwrap(),
            Err(tokens::Unauthorized::Malformed)
        );
        seen.push(tokens::list(&desk).unwrap());
    }
    assert_eq!(seen[0], seen[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_metrics_are_served() {
    const SECRET: &str = "review-signing-key";
    let keys = TempDir::new().unwrap();
    let key = keys.path().join("review.key");
    std::fs::write(&key, SECRET).unwrap();
    let reviews = format!(
        "kind: campaign\nname: reviews\nhooks:\n  new-review: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: new-review }}\n    to: demo\n    text: \"Thank you, {{{{ event.author }}}}!\"\n",
        key.display()
    );
    let rig = Rig::start(&[("reviews.yaml", &reviews)]).await;
    let url = format!("{}/hooks/new-review", rig.base);
    let body = r#"{"author":"Ann","stars":5}"#;

    let unsigned = rig.client.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert!(
        rig.desk
            .store
            .history(&Default::default())
            .unwrap()
            .is_empty()
    );

    let timestamp = Utc::now().timestamp().to_string();
    let signature =
        crier::connectors::webhook::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let signed = rig
        .client
        .post(&url)
        .header("X-Crier-Timestamp", &timestamp)
        .header("X-Crier-Signature", &signature)
        .header("Idempotency-Key", "review-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::ACCEPTED);
    let accepted: Value = signed.json().await.unwrap();
    let run = accepted["runs"][0].as_i64().expect("a run id");
    let runs = rig.desk.store.history(&Default::default()).unwrap();
    assert!(
        runs.iter().any(|r| r.id == run),
        "the run is committed before the answer"
    );

    // An editor's token stands in for the signature; a viewer's does not.
    let vera = rig.token("vera");
    let ed = rig.token("ed");
    let by_viewer = rig
        .client
        .post(&url)
        .bearer_auth(&vera)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_viewer.status(), StatusCode::FORBIDDEN);
    let by_editor = rig
        .client
        .post(&url)
        .bearer_auth(&ed)
        .header("Idempotency-Key", "review-2")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_editor.status(), StatusCode::ACCEPTED);

    // Mentions pushed in: an editor's, checked whole before anything is stored.
    let mentions = format!("{}/api/v1/mentions", rig.base);
    let mention = r#"{"at": "2026-12-01T09:00:00Z", "type": "mention", "id": "m-1", "account": "demo", "author": "@ann", "text": "hello"}"#;
    let by_viewer = rig
        .client
        .post(&mentions)
        .bearer_auth(&vera)
        .body(mention)
        .send()
        .await
        .unwrap();
    assert_eq!(by_viewer.status(), StatusCode::FORBIDDEN);
    let invalid = rig
        .client
        .post(&mentions)
        .bearer_auth(&ed)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let pushed = rig
        .client
        .post(&mentions)
        .bearer_auth(&ed)
        .body(mention)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::OK);
    let pushed: Value = pushed.json().await.unwrap();
    assert_eq!(pushed["received"], 1, "{pushed}");

    let metrics = rig
        .client
        .get(format!("{}/metrics", rig.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("crier_runs"), "{text}");
    rig.stop().await;
}

/// Telegram's pushed updates reach an `updates: webhook` account through the server: a
/// wrong secret token is refused and stores nothing; an update mentioning the bot feeds the
/// crisis plan watching the account, once however often Telegram repeats it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_pushes_updates_to_the_webhook_route() {
    use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram};
    let fake = FakeTelegram::start("123:abc");
    let keys = TempDir::new().unwrap();
    let token = keys.path().join("token");
    let secret = keys.path().join("secret");
    std::fs::write(&token, "123:abc").unwrap();
    std::fs::write(&secret, "tg-webhook-token").unwrap();
    let config = PEOPLE_CONFIG.replace(
        "  demo: { network: console }\n",
        &format!(
            "  demo: {{ network: console }}\n  brand_telegram:\n    network: telegram\n    server: {}\n    token: \"file:{}\"\n    chat: \"@brand_channel\"\n    updates: webhook\n    url: https://crier.example.com/telegram/brand_telegram\n    secret: \"file:{}\"\n",
            fake.url(),
            token.display(),
            secret.display()
        ),
    );
    let crisis = "kind: crisis\nname: outage\nwatch:\n  accounts: [brand_telegram]\n  keywords: [app]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: vera\n";
    let rig = Rig::start_with(&config, &[("outage.yaml", crisis)]).await;
    let text = format!("is the app down again @{BOT_USERNAME}");
    let offset = text.encode_utf16().count() - BOT_USERNAME.len() - 1;
    let update = json!({ "update_id": 900, "message": {
        "message_id": 42,
        "from": { "id": 88, "is_bot": false, "first_name": "Bo" },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat" },
        "date": Utc::now().timestamp(),
        "text": text,
        "entities": [{ "type": "mention", "offset": offset, "length": BOT_USERNAME.len() + 1 }]
    }});
    let url = format!("{}/telegram/brand_telegram", rig.base);
    let push = |secret: &'static str| {
        rig.client
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
    };
    let forged = push("guess").await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let first = push("tg-webhook-token").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["crisis_mentions"], 1, "{first}");
    let again: Value = push("tg-webhook-token")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["crisis_mentions"], 0, "{again}");
    let unknown = rig
        .client
        .post(format!("{}/telegram/nobody", rig.base))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    rig.stop().await;
}
