//! Prometheus metrics of a served run: a service started in-process, a hook event received
//! and one refused, a scheduled post sent, then the rendered text read line by line.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::webhook::sign;
use crier::engine::events::ServiceEvent;
use crier::engine::service::Service;
use crier::ops::Desk;
use crier::ops::hooks::{HookRequest, receive};
use crier::store::{NewPause, PauseScope, SqliteStore, Store};

use crate::support::playbooks::folder;

const SECRET: &str = "metrics-signing-key";

/// The value of the one sample whose line starts with `name{` and holds every label.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_run_renders_sends_runs_hooks_lateness_and_gauges() {
    let key_dir = tempfile::TempDir::new().unwrap();
    let key = key_dir.path().join("hook.key");
    std::fs::write(&key, SECRET).unwrap();
    let at = (Utc::now() + TimeDelta::seconds(1)).format("%Y-%m-%d %H:%M:%S");
    let campaign = format!(
        "kind: campaign\nname: metrics-shop\nhooks:\n  metrics-review: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: metrics-review }}\n    to: metrics_demo\n    text: \"Thank you, {{{{ event.author }}}}!\"\n  - calendar: soon.csv\n",
        key.display()
    );
    let crisis = "kind: crisis\nname: metrics-outage\nwatch:\n  accounts: [metrics_demo]\n  keywords: [acme]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: duty\n";
    let dir = folder(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  metrics_demo: { network: console }\npeople:\n  duty: { notify: metrics_demo }\n",
        &[
            ("shop.yaml", &campaign),
            ("outage.yaml", crisis),
            (
                "soon.csv",
                &format!("at,to,text\n{at},metrics_demo,on time\n"),
            ),
        ],
    );
    let service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let mut events = service.subscribe();
    let hooks = service.hooks();
    let body = br#"{"author": "Ann"}"#;
    let timestamp = Utc::now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body);
    let request = HookRequest {
        timestamp: Some(&timestamp),
        signature: Some(&signature),
        idempotency_key: Some("m-1"),
        body,
    };
    receive(&hooks, "metrics-review", request, Utc::now()).expect("accepted");
    let forged = HookRequest {
        signature: Some("sha256=00"),
        ..request
    };
    assert_eq!(
        receive(&hooks, "metrics-review", forged, Utc::now())
            .unwrap_err()
            .status(),
        401
    );
    let mut sent = 0;
    tokio::time::timeout(Duration::from_secs(60), async {
        while sent < 2 {
            if let Ok(ServiceEvent::Sent { .. }) = events.recv().await {
                sent += 1;
            }
        }
    })
    .await
    .expect("both posts are sent");

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    let now = Utc::now().timestamp_millis();
    store
        .pause(
            &NewPause {
                scope: PauseScope::Account("metrics_demo".into()),
                until: None,
                reason: "storm".into(),
                by: "duty".into(),
            },
            now,
        )
        .unwrap();
    let desk = Desk::new(hooks.plan(), store);
    let text = crier::ops::metrics::render(&desk, Utc::now()).unwrap();
    service.stop().await.unwrap();

    let sends = sample(
        &text,
        "crier_sends_total",
        &[
            "network=\"console\"",
            "account=\"metrics_demo\"",
            "outcome=\"sent\"",
        ],
    );
    assert_eq!(sends, Some(2.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "crier_hook_events_accepted_total",
            &["hook=\"metrics-review\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "crier_hook_events_refused_total",
            &["hook=\"metrics-review\"", "reason=\"bad_signature\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "crier_runs", &["state=\"succeeded\""]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "crier_runs", &["state=\"failed\""]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "crier_pauses_in_force", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "crier_approvals_waiting", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(sample(&text, "crier_posts_due", &[]), Some(0.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "crier_incidents_open",
            &["plan=\"metrics-outage\"", "level=\"elevated\""]
        ),
        Some(0.0),
        "{text}"
    );
    let fired = sample(&text, "crier_fire_lateness_seconds_count", &[]).unwrap_or(0.0);
    assert!(fired >= 1.0, "{text}");
    assert!(
        text.contains("crier_fire_lateness_seconds_bucket{le=\"0.5\"}"),
        "{text}"
    );
    assert!(text.contains("# HELP crier_sends_total"), "{text}");
}

/// Upkeep moves the lateness samples kept since the last render into the histogram's
/// buckets (the dispatcher runs it once a burst is over, so they are not held until a
/// scrape): the next render still counts every one.
#[test]
fn upkeep_keeps_every_lateness_sample_in_the_histogram() {
    crier::telemetry::install().expect("the recorder");
    let count = || {
        sample(
            &crier::telemetry::render(),
            "crier_fire_lateness_seconds_count",
            &[],
        )
        .unwrap_or(0.0)
    };
    let before = count();
    for seconds in [0.001, 0.3, 2.0] {
        crier::telemetry::fire_lateness(seconds);
    }
    crier::telemetry::upkeep();
    crier::telemetry::upkeep();
    assert!(count() >= before + 3.0);
}
