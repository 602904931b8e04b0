//! Benchmarks for the engine's speed goals (measured, never asserted in tests):
//! - condition evaluation with compiled ASTs (goal: at least 1,000,000 per second per core);
//! - durable dispatch to a local HTTP sink: 5,000 posts committed to a SQLite file, then
//!   claimed, sent through the webhook connector and recorded (goal: at least 5,000/s);
//! - rehearsing a year of 1,000 cron posts (about 250,000 fires; goal: "in seconds").
//!
//! Run: `cargo bench --bench engine` (one group: `cargo bench --bench engine -- rehearse`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use crier::connectors::Connectors;
use crier::connectors::webhook::WebhookConnector;
use crier::engine::{Dispatcher, RetryPolicy};
use crier::script::{
    AccountMetrics, ConditionContext, ConditionInput, MetricsSource, ScriptEngine,
};
use crier::store::idempotency_key;
use crier::store::{Batch, ItemKey, NewOutbox, NewRun, RunState, SqliteStore, StepSpec, Store};
use criterion::{Criterion, criterion_group, criterion_main};

struct Snapshot;

impl MetricsSource for Snapshot {
    fn metrics(&self, _account: &str) -> Result<Option<AccountMetrics>, String> {
        Ok(Some(AccountMetrics {
            followers: 1200,
            posts: 10,
            likes: 5,
            reposts: 1,
            replies: 2,
        }))
    }
}

fn conditions(c: &mut Criterion) {
    let engine = ScriptEngine::new();
    let condition = engine
        .compile(
            r#"metrics("brand").followers > 100 && vars.discount >= 10"#,
            ConditionContext::CampaignWhen,
        )
        .unwrap();
    // The context a campaign `when:` sees at fire time.
    let input = ConditionInput::new()
        .with_now(&Utc::now())
        .with_json(
            "post",
            &serde_json::json!({ "id": "daily-deal", "text": "-30% today", "to": ["brand"] }),
        )
        .with_json(
            "vars",
            &serde_json::json!({ "discount": 30, "product": "Jacket" }),
        )
        .with_metrics(Arc::new(Snapshot));
    c.bench_function("evaluate a compiled condition", |b| {
        b.iter(|| assert!(engine.evaluate(&condition, &input).unwrap()))
    });
}

/// A local HTTP sink that accepts every post.
fn sink(runtime: &tokio::runtime::Runtime) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::post(|| async { r#"{"id":"ok"}"# }));
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}

fn dispatch(c: &mut Criterion) {
    const POSTS: usize = 5_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = sink(&runtime);
    let client = reqwest::Client::new();
    let mut connectors = Connectors::new();
    connectors.insert(
        "hook",
        Arc::new(WebhookConnector::new(
            "hook",
            url.parse().unwrap(),
            None,
            client,
        )),
    );
    let connectors = Arc::new(connectors);
    let mut group = c.benchmark_group("dispatch");
    group.sample_size(10);
    group.bench_function(
        "commit, send and record 5,000 posts to a local HTTP sink",
        |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let dir = tempfile::tempdir().unwrap();
                    let store: Arc<dyn Store> =
                        Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
                    let revision = store.record_revision("bench", 0).unwrap();
                    let now = Utc::now().timestamp_millis();
                    let started = Instant::now();
                    let runs = (0..POSTS)
                        .map(|n| {
                            let key = ItemKey::new("bench", format!("post-{n}"));
                            let post = crier::connectors::OutgoingPost {
                                idempotency_key: idempotency_key(&key, now, 0, "hook"),
                                text: format!("post {n}"),
                                media: vec![],
                                reply_to: None,
                                playbook: key.playbook.clone(),
                                item: key.item.clone(),
                                direct_to: None,
                                notice: false,
                            };
                            NewRun {
                                key,
                                fire_at: now,
                                revision,
                                state: RunState::Running,
                                reason: None,
                                steps: vec![StepSpec::Post {
                                    to: vec!["hook".into()],
                                    text: post.text.clone(),
                                    media: vec![],
                                    reply_to: None,
                                }],
                                current_step: 1,
                                wake_at: None,
                                outbox: vec![NewOutbox {
                                    step: 0,
                                    account: "hook".into(),
                                    post,
                                    due: now,
                                }],
                            }
                        })
                        .collect();
                    store
                        .commit(&Batch {
                            now,
                            runs,
                            cursors: vec![],
                            approvals: vec![],
                            ..Batch::default()
                        })
                        .unwrap();
                    let dispatcher =
                        Dispatcher::new(store.clone(), connectors.clone(), RetryPolicy::default());
                    let sent = runtime
                        .block_on(dispatcher.dispatch_due(Utc::now, None))
                        .unwrap();
                    total += started.elapsed();
                    assert_eq!(sent, POSTS);
                }
                total
            })
        },
    );
    group.finish();
}

/// The `plan` benchmark's fixture (`benches/playbooks.rs`): one campaign with 1,000 cron
/// items at different minutes, hours and days.
fn thousand_cron_items(dir: &Path) {
    std::fs::write(
        dir.join("crier.yaml"),
        "timezone: Europe/Kyiv\naccounts:\n  brand_mastodon: { network: console }\n  brand_bluesky: { network: console }\n",
    )
    .unwrap();
    let mut text = String::from("kind: campaign\nname: year\nvars: { product: Jacket }\nposts:\n");
    let days = ["MON-FRI", "SAT,SUN", "*", "MON", "1-5"];
    for i in 0..1000 {
        let _ = write!(
            text,
            "  - id: item-{i}\n    cron: \"{} {} * * {}\"\n    to: brand_mastodon\n    text: \"{{{{ product }}}} #{i}\"\n",
            i % 60,
            i % 24,
            days[i % days.len()]
        );
    }
    std::fs::write(dir.join("year.yaml"), text).unwrap();
}

/// `crier rehearse` over a year of the fixture, from the validated plan to the lines it
/// prints (the engine on a virtual clock, SQLite in memory, recording connectors).
fn rehearse(c: &mut Criterion) {
    let year = tempfile::tempdir().unwrap();
    thousand_cron_items(year.path());
    let plan = Arc::new(
        crier::playbook::load::load_and_validate(year.path())
            .unwrap()
            .plan
            .unwrap(),
    );
    let from = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("rehearse");
    group.sample_size(10);
    group.bench_function("rehearse a year of 1,000 cron items", |b| {
        b.iter(|| {
            let lines = runtime
                .block_on(crier::engine::rehearse::rehearse(
                    plan.clone(),
                    &[],
                    from,
                    until,
                ))
                .unwrap();
            let text = crier::engine::rehearse::render_text(&lines);
            assert!(lines.len() > 200_000, "{}", lines.len());
            text.len()
        })
    });
    group.finish();
}

criterion_group!(engine_benches, conditions, dispatch, rehearse);
criterion_main!(engine_benches);
