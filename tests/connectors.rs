//! Connectors against servers on 127.0.0.1: the console, the webhook and every class of
//! failure, secrets, and the registry.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crier::connectors::console::ConsoleConnector;
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::{self, Secret};
use crier::connectors::webhook::{WebhookConnector, verify_signature};
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_network::{FakeNetwork, Fault, Outcome};

/// A writer tests can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: vec![],
        reply_to: None,
        playbook: "launch".into(),
        item: "teaser".into(),
        direct_to: None,
        notice: false,
    }
}

/// A client with short timeouts, so a slow reply fails in well under a second.
fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn webhook(url: &str, secret: Option<&str>) -> WebhookConnector {
    WebhookConnector::new(
        "crm_hook",
        url.parse().unwrap(),
        secret.map(Secret::new),
        client(),
    )
}

/// An account as `crier.yaml` would declare it, read through crier's own YAML reader.
fn account(name: &str, network: Network, fields: &[(&str, &str)]) -> (String, Account) {
    let mut yaml = format!("network: {}\n", network.name());
    for (field, value) in fields {
        yaml.push_str(&format!("{field}: '{value}'\n"));
    }
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    (
        name.into(),
        Account {
            name: name.into(),
            network,
            config,
        },
    )
}

#[tokio::test]
async fn console_prints_one_line_per_post_and_looks_up_by_key() {
    let out = Captured::default();
    let console = ConsoleConnector::with_writer("local", out.clone());
    let first = console.post(&post("k1", "Hello\nworld")).await.unwrap();
    assert_eq!(first.remote_id, "console-k1");
    let mut reply = post("k2", "Thanks!");
    reply.reply_to = Some("console-k1".into());
    console.post(&reply).await.unwrap();
    // A repeated key is not printed twice.
    assert_eq!(
        console.post(&post("k1", "Hello\nworld")).await.unwrap(),
        first
    );
    assert_eq!(
        out.text(),
        "[console] local ← launch/teaser: Hello ⏎ world\n\
         [console] local ← launch/teaser: Thanks! (reply to console-k1)\n"
    );
    assert_eq!(
        console.lookup(&post("k1", "")).await.unwrap(),
        Lookup::Found(first)
    );
    assert_eq!(
        console.lookup(&post("k3", "")).await.unwrap(),
        Lookup::NotFound
    );
    let caps = console.capabilities();
    assert!(caps.post && caps.reply && caps.lookup && caps.idempotency_key);
    assert!(!caps.metrics);
    // Direct messages print with their recipient and deduplicate like posts; deletes print.
    let dm = console
        .direct_message("@winner", &post("k4", "You won"))
        .await
        .unwrap();
    assert_eq!(dm.remote_id, "console-k4");
    console
        .direct_message("@winner", &post("k4", "You won"))
        .await
        .unwrap();
    console.delete("console-k2").await.unwrap();
    let lines: Vec<String> = out.text().lines().skip(2).map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            "[console] local → @winner (direct) ← launch/teaser: You won",
            "[console] local ✗ deleted console-k2",
        ]
    );
    // Nobody mentions a console.
    let page = console.mentions(Some("c1")).await.unwrap();
    assert!(page.mentions.is_empty());
    assert_eq!(page.cursor.as_deref(), Some("c1"));
}

#[tokio::test]
async fn webhook_posts_signed_json() {
    let fake = FakeNetwork::start();
    let hook = webhook(&fake.url(), Some("s3cret"));
    let mut outgoing = post("run-1/step-2/crm_hook", "We launch today");
    outgoing.media = vec!["img/teaser.png".into()];
    let delivered = hook.post(&outgoing).await.unwrap();
    assert_eq!(
        delivered,
        Delivered {
            remote_id: "post-1".into(),
            url: None
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
    assert_eq!(header("idempotency-key"), "run-1/step-2/crm_hook");
    assert_eq!(header("content-type"), "application/json");
    assert!(header("user-agent").starts_with("crier/"));
    let timestamp = header("x-crier-timestamp");
    let sent_at: i64 = timestamp.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 60);
    assert!(verify_signature(
        b"s3cret",
        timestamp,
        request.body.as_bytes(),
        header("x-crier-signature")
    ));
    assert!(!verify_signature(
        b"wrong",
        timestamp,
        request.body.as_bytes(),
        header("x-crier-signature")
    ));
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["idempotency_key"], "run-1/step-2/crm_hook");
    assert_eq!(body["playbook"], "launch");
    assert_eq!(body["item"], "teaser");
    assert_eq!(body["text"], "We launch today");
    assert_eq!(body["media"], serde_json::json!(["img/teaser.png"]));
    assert_eq!(body["reply_to"], serde_json::Value::Null);
    let sent_at = chrono::DateTime::parse_from_rfc3339(body["sent_at"].as_str().unwrap()).unwrap();
    assert_eq!(sent_at.timestamp(), timestamp.parse::<i64>().unwrap());
    assert_eq!(hook.lookup(&outgoing).await.unwrap(), Lookup::Unsupported);
}

#[tokio::test]
async fn webhook_without_secret_sends_no_signature() {
    let fake = FakeNetwork::start();
    webhook(&fake.url(), None)
        .post(&post("k", "hi"))
        .await
        .unwrap();
    assert!(
        fake.requests()[0]
            .headers
            .get("x-crier-signature")
            .is_none()
    );
}

async fn send_with(fault: Fault) -> (SendError, FakeNetwork) {
    let fake = FakeNetwork::start();
    fake.push_fault(fault);
    let err = webhook(&fake.url(), Some("s3cret"))
        .post(&post("k", "hi"))
        .await
        .unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn server_error_is_transient() {
    let (err, fake) = send_with(Fault::ServerError).await;
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert_eq!(fake.created_count(), 0);
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds() {
    let (err, _fake) = send_with(Fault::RateLimited {
        retry_after: "42".into(),
    })
    .await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_secs(42)),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_http_date() {
    let at = chrono::Utc::now() + chrono::TimeDelta::seconds(30);
    let (err, _fake) = send_with(Fault::RateLimited {
        retry_after: at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    })
    .await;
    let SendError::RetryAfter { after, .. } = err else {
        panic!("{err:?}")
    };
    // The date has whole seconds, and the request took a moment.
    assert!(
        after > Duration::from_secs(27) && after <= Duration::from_secs(30),
        "{after:?}"
    );
}

#[tokio::test]
async fn rate_limit_without_hints_waits_the_default() {
    let (err, _fake) = send_with(Fault::RateLimitedNoHint).await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: http::DEFAULT_RETRY_AFTER,
            reason: "the network is rate limiting (HTTP 429 Too Many Requests)".into()
        }
    );
}

#[tokio::test]
async fn bad_request_is_permanent_with_the_message() {
    let (err, _fake) = send_with(Fault::BadRequest {
        message: "text is longer than 500 characters".into(),
    })
    .await;
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the network refused the post (HTTP 400 Bad Request): text is longer than 500 characters".into()
        }
    );
}

#[tokio::test]
async fn slow_reply_is_outcome_unknown_and_a_resend_is_a_repeat() {
    let (err, fake) = send_with(Fault::Slow(Duration::from_secs(5))).await;
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.created_count(), 1);
    // The receiver deduplicates by key: the resend is answered as the first post.
    let delivered = webhook(&fake.url(), Some("s3cret"))
        .post(&post("k", "hi"))
        .await
        .unwrap();
    assert_eq!(delivered.remote_id, "post-1");
    assert_eq!((fake.created_count(), fake.repeat_count()), (1, 1));
}

#[tokio::test]
async fn accept_then_drop_is_outcome_unknown() {
    let (err, fake) = send_with(Fault::AcceptThenDrop).await;
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.created_count(), 1);
    assert_eq!(fake.requests()[0].outcome, Outcome::Created);
    let delivered = webhook(&fake.url(), Some("s3cret"))
        .post(&post("k", "hi"))
        .await
        .unwrap();
    assert_eq!(delivered.remote_id, "post-1");
    assert_eq!(fake.request_count(), 2);
    assert_eq!(fake.created_count(), 1);
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    // Bind then release a port so nothing listens on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = webhook(&format!("http://{addr}/hook"), None)
        .post(&post("k", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(err.reason().starts_with("could not connect"), "{err}");
}

#[tokio::test]
async fn random_faults_still_create_each_post_once() {
    let fake = FakeNetwork::start();
    fake.set_random_faults(
        0.5,
        vec![
            Fault::ServerError,
            Fault::RateLimitedNoHint,
            Fault::AcceptThenDrop,
        ],
        7,
    );
    let hook = webhook(&fake.url(), None);
    for n in 0..10 {
        let outgoing = post(&format!("key-{n}"), "hi");
        let mut tries = 0;
        while hook.post(&outgoing).await.is_err() {
            tries += 1;
            assert!(tries < 50, "post {n} never went through");
        }
    }
    assert_eq!(fake.created_count(), 10);
    assert!(fake.request_count() > 10);
}

#[test]
fn fake_network_runs_outside_a_runtime() {
    let fake = FakeNetwork::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let delivered = runtime
        .block_on(webhook(&fake.url(), None).post(&post("k", "hi")))
        .unwrap();
    assert_eq!(delivered.remote_id, "post-1");
}

#[test]
fn missing_secrets_are_all_reported_by_account_and_name() {
    let accounts = BTreeMap::from([
        account(
            "crm_hook",
            Network::Webhook,
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("secret", "env:CRIER_TEST_UNSET_CRM_SECRET"),
            ],
        ),
        account(
            "masto",
            Network::Mastodon,
            &[
                ("server", "https://mastodon.example"),
                ("token", "file:/nonexistent/crier/masto-token"),
            ],
        ),
        account("local", Network::Console, &[]),
    ]);
    let errors = Connectors::build(&accounts, &client()).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "account `crm_hook`: environment variable `CRIER_TEST_UNSET_CRM_SECRET` is not set",
            "account `masto`: cannot read secret file `/nonexistent/crier/masto-token`: No such file or directory (os error 2)",
        ]
    );
}

#[test]
fn registry_builds_console_and_webhook() {
    let accounts = BTreeMap::from([
        account(
            "crm_hook",
            Network::Webhook,
            &[("url", "http://127.0.0.1:9/hook")],
        ),
        account("local", Network::Console, &[]),
    ]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    assert_eq!(connectors.len(), 2);
    assert_eq!(
        connectors.get("crm_hook").unwrap().network(),
        Network::Webhook
    );
    assert_eq!(connectors.get("local").unwrap().account(), "local");
    assert!(connectors.get("nobody").is_none());

    let bad = BTreeMap::from([account("crm_hook", Network::Webhook, &[("url", "ftp://x")])]);
    let errors = Connectors::build(&bad, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `crm_hook`: `url` is not an http(s) URL: the scheme is `ftp`"
    );
}

#[tokio::test]
async fn rehearsal_records_every_account_whatever_its_network() {
    let accounts = BTreeMap::from([
        account(
            "masto",
            Network::Mastodon,
            &[("token", "env:CRIER_TEST_UNSET_TOKEN")],
        ),
        account("local", Network::Console, &[]),
    ]);
    let (connectors, recording) = Connectors::build_rehearsal(&accounts);
    let masto = connectors.get("masto").unwrap();
    assert_eq!(masto.network(), Network::Mastodon);
    let first = masto.post(&post("a", "one")).await.unwrap();
    let second = connectors
        .get("local")
        .unwrap()
        .post(&post("b", "two"))
        .await
        .unwrap();
    assert_eq!(masto.post(&post("a", "one")).await.unwrap(), first);
    assert_eq!(
        (first.remote_id.as_str(), second.remote_id.as_str()),
        ("rehearsal-1", "rehearsal-2")
    );
    assert_eq!(
        masto.lookup(&post("a", "")).await.unwrap(),
        Lookup::Found(first)
    );
    assert_eq!(
        masto.lookup(&post("b", "")).await.unwrap(),
        Lookup::NotFound
    );
    let records = recording.lock().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].account, "masto");
    assert_eq!(records[1].post.text, "two");
}

#[test]
fn file_secret_loses_its_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "abc123\n").unwrap();
    let secret = secret::resolve("masto", "token", &format!("file:{}", path.display())).unwrap();
    assert_eq!(secret.expose(), "abc123");
    std::fs::write(&path, "abc123\r\n").unwrap();
    let secret = secret::resolve("masto", "token", &format!("file:{}", path.display())).unwrap();
    assert_eq!(secret.expose(), "abc123");
}

#[test]
fn env_secret_read_and_missing_one_named() {
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        secret::resolve("a", "token", "env:PATH").unwrap().expose(),
        path
    );
    assert_eq!(
        secret::resolve("crm_hook", "secret", "env:CRIER_TEST_UNSET_CRM_SECRET")
            .unwrap_err()
            .to_string(),
        "account `crm_hook`: environment variable `CRIER_TEST_UNSET_CRM_SECRET` is not set"
    );
}

#[tokio::test]
async fn a_known_token_never_shows_in_debug_display_or_errors() {
    const TOKEN: &str = "tok-9f8e7d6c5b4a";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    let fake = FakeNetwork::start();
    let accounts = BTreeMap::from([account(
        "crm_hook",
        Network::Webhook,
        &[
            ("url", &fake.url()),
            ("secret", &format!("file:{}", path.display())),
        ],
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let hook = connectors.get("crm_hook").unwrap();
    let mut texts = vec![format!("{connectors:?}"), format!("{hook:?}")];
    for fault in [
        Fault::ServerError,
        Fault::BadRequest {
            message: "nope".into(),
        },
        Fault::AcceptThenDrop,
    ] {
        fake.push_fault(fault);
        let err = hook
            .post(&post(&format!("{:?}", texts.len()), "hi"))
            .await
            .unwrap_err();
        texts.extend([
            format!("{err}"),
            format!("{err:?}"),
            err.reason().to_owned(),
        ]);
    }
    let secret =
        secret::resolve("crm_hook", "secret", &format!("file:{}", path.display())).unwrap();
    texts.extend([format!("{secret}"), format!("{secret:?}")]);
    for text in &texts {
        assert!(!text.contains(TOKEN), "the token leaked into: {text}");
    }
    assert!(texts.iter().any(|t| t.contains("Secret(***)")));
}
