//! How `crier run` serves: HTTPS with a certificate from `crier.yaml` (checked where it is
//! written); pages of runs read from their cursor over a million runs; the event stream
//! showing actions taken from the CLI in another process; a storm of hook events through a
//! SIGKILL and a restart, nothing acknowledged lost and every post delivered once.

use std::sync::Arc;
use std::time::Duration;

use crier::engine::service::Service;

use crate::support::playbooks::folder;

const PEOPLE: &str = "\
timezone: UTC
store: sqlite://crier.db
accounts:
  demo: { network: console }
people:
  ada: { notify: demo, role: admin }
";

/// A self-signed certificate for `crier.test` and its key, in PEM.
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["crier.test".to_string()]).unwrap();
    (made.cert.pem(), made.signing_key.serialize_pem())
}

fn tls_config(cert: &str, key: &str) -> String {
    format!("{PEOPLE}server:\n  tls:\n    cert: {cert}\n    key: {key}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_over_https_with_the_certificate_configured() {
    let (cert, key) = self_signed();
    let dir = folder(&tls_config("file:tls/cert.pem", "file:tls/key.pem"), &[]);
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    std::fs::write(dir.path().join("tls/cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("tls/key.pem"), &key).unwrap();
    let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let plan = service.view().plan().expect("a plan");
    assert!(plan.server.tls_enabled());
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the server starts");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .resolve("crier.test", bound)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("https://crier.test:{}/healthz", bound.port());
    let answer = client.get(&url).send().await.expect("an HTTPS answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), r#"{"status":"ok"}"#);
    // The certificate is checked by the client: one that does not trust it gets no answer.
    let untrusting = reqwest::Client::builder()
        .resolve("crier.test", bound)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(untrusting.get(&url).send().await.is_err());
    // Plain HTTP to the HTTPS port gets no API answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let answered = plain
        .get(format!("http://{bound}/healthz"))
        .send()
        .await
        .map(|a| a.status().as_u16());
    assert!(!matches!(answered, Ok(200)), "{answered:?}");
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .expect("the service stops within a minute")
        .expect("the service stops cleanly");
}

fn validate(dir: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("validate")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "validation must fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_certificate_or_key_that_cannot_serve_is_an_error_at_its_line() {
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    // A missing file, and a reference that is not `file:`.
    let dir = folder(
        &tls_config("file:missing.pem", "file:key.pem"),
        &[("key.pem", &key)],
    );
    let text = validate(dir.path());
    assert!(text.contains("crier.yaml:9:11"), "{text}");
    assert!(text.contains("cannot read"), "{text}");
    assert!(text.contains("missing.pem"), "{text}");
    let dir = folder(
        &tls_config("file:cert.pem", "/etc/key.pem"),
        &[("cert.pem", &cert)],
    );
    let text = validate(dir.path());
    assert!(text.contains("crier.yaml:10:10"), "{text}");
    assert!(
        text.contains("`key` must be `file:PATH`, found `/etc/key.pem`"),
        "{text}"
    );
    // A certificate file that is not PEM.
    let dir = folder(
        &tls_config("file:cert.pem", "file:key.pem"),
        &[("cert.pem", "not a certificate\n"), ("key.pem", &key)],
    );
    let text = validate(dir.path());
    assert!(text.contains("crier.yaml:9:11"), "{text}");
    assert!(text.contains("is not a PEM certificate chain"), "{text}");
    // A truncated key.
    let dir = folder(
        &tls_config("file:cert.pem", "file:key.pem"),
        &[("cert.pem", &cert), ("key.pem", &key[..key.len() / 2])],
    );
    let text = validate(dir.path());
    assert!(text.contains("crier.yaml:10:10"), "{text}");
    assert!(text.contains("is not a PEM private key"), "{text}");
    // A key that is not the certificate's.
    let dir = folder(
        &tls_config("file:cert.pem", "file:key.pem"),
        &[("cert.pem", &cert), ("key.pem", &other_key)],
    );
    let text = validate(dir.path());
    assert!(text.contains("crier.yaml:10:10"), "{text}");
    assert!(text.contains("cannot serve the certificate"), "{text}");
}

/// Pages of a million runs are read from where they start: the store searches its index
/// from the cursor rather than counting from the newest run, and every page continues the
/// one before.
#[test]
fn pages_of_a_million_runs_start_at_their_cursor() {
    use crier::store::{RunState, RunsPageFilter, SqliteStore, Store};
    const RUNS: i64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    let sqlite = SqliteStore::open(&path).unwrap();
    let store: &dyn Store = &sqlite;
    let revision = store.record_revision("rev", 1).unwrap();
    {
        // Written in one statement: the runs' contents do not matter here, their number does.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO runs (playbook, item, fire_at, revision, state, reason, steps,
                               current_step, created_at, updated_at)
             SELECT CASE WHEN i % 10 = 0 THEN 'rare' ELSE 'news' END, 'item' || i, (i / 2) * 1000,
                    ?2, CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'succeeded' END, NULL, '[]', 0,
                    i, i
             FROM n",
            rusqlite::params![RUNS, revision],
        )
        .unwrap();
    }
    let ids = |filter: &RunsPageFilter| -> Vec<i64> {
        store
            .runs_page(filter)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    // Newest first: fire times tie in pairs (i / 2), the higher id first.
    let first = RunsPageFilter {
        limit: 4,
        ..Default::default()
    };
    assert_eq!(ids(&first), [RUNS, RUNS - 1, RUNS - 2, RUNS - 3]);
    // Deep in the history: the page after run 11 (fired at 5 s), from its cursor.
    let deep = RunsPageFilter {
        before: Some((5_000, 11)),
        ..first.clone()
    };
    assert_eq!(ids(&deep), [10, 9, 8, 7]);
    // Between a tie: after run 10 comes 9 (fired at 4 s), never 11 again.
    let tie = RunsPageFilter {
        before: Some((5_000, 10)),
        ..first.clone()
    };
    assert_eq!(ids(&tie), [9, 8, 7, 6]);
    // One playbook's runs, from a cursor deep in them.
    let rare = RunsPageFilter {
        playbook: Some("rare".into()),
        before: Some((50_000, 100)),
        ..first.clone()
    };
    assert_eq!(ids(&rare), [90, 80, 70, 60]);
    let failed = RunsPageFilter {
        state: Some(RunState::Failed),
        before: Some((5_000_000, 10_000)),
        limit: 3,
        ..Default::default()
    };
    assert_eq!(ids(&failed), [9_000, 8_000, 7_000]);
    // Walking pages from the middle: each page continues the one before, none repeated.
    let mut before = Some((250_000_000, 500_001));
    let mut expected = 500_000;
    for _ in 0..50 {
        let page = store
            .runs_page(&RunsPageFilter {
                before,
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        for run in &page {
            assert_eq!(run.id, expected);
            expected -= 1;
        }
        let last = page.last().unwrap();
        before = Some((last.fire_at, last.id));
    }
    // The statements search an index from the cursor; none scans the table.
    let db = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        include_str!("../src/store/sqlite/views/runs_page.sql"),
        include_str!("../src/store/sqlite/views/runs_page_of_playbook.sql"),
    ] {
        let mut explain = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = explain
            .query_map(
                rusqlite::params![
                    5_000,
                    11,
                    None::<i64>,
                    "rare",
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    4
                ],
                |row| row.get::<_, String>(3),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let runs = plan
            .iter()
            .find(|line| line.contains(" runs "))
            .unwrap_or_else(|| panic!("{plan:?}"));
        assert!(
            runs.starts_with("SEARCH runs USING INDEX") && runs.contains("fire_at<"),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:?}");
    }
}

/// The names and data of the server-sent events in `text`.
fn events_in(text: &str) -> Vec<(String, serde_json::Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            Some((event?, serde_json::from_str(&data).unwrap_or_default()))
        })
        .collect()
}

/// `crier pause` and `crier resume` run in other processes, on the store of a running
/// server: its event stream tells of both, saying who.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_taken_from_the_cli_show_on_the_event_stream() {
    let dir = folder(PEOPLE, &[]);
    let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let view = service.view();
    let plan = view.plan().expect("a plan");
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the server starts");
    let desk = crier::ops::Desk::new(plan, view.store());
    let ada = desk.actor("ada").unwrap();
    let token = crier::ops::tokens::issue(&desk, &ada, "test", None, chrono::Utc::now())
        .unwrap()
        .secret;
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("http://{bound}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .args(["--path", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&["pause", "--all", "--reason", "storm", "--by", "ada"]);
    cli(&["resume", "--all", "--by", "ada"]);
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if events_in(&text).iter().any(|(e, _)| e == "resumed") {
                return;
            }
        }
    })
    .await;
    let events = events_in(&text);
    assert!(read.is_ok(), "no `resumed` within a minute: {events:?}");
    let paused = events
        .iter()
        .find(|(e, _)| e == "paused")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(paused.1["by"], "ada");
    assert_eq!(paused.1["scope"], "everything");
    let resumed = events.iter().find(|(e, _)| e == "resumed").unwrap();
    assert_eq!(resumed.1["by"], "ada");
    assert_eq!(resumed.1["lifted"], 1);
    drop(stream);
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .expect("the service stops within a minute")
        .expect("the service stops cleanly");
}

/// `crier contest disqualify` in another process, on the store of a running server: the
/// journal keeps the substitution and the event stream tells who was left out, who wins
/// instead and who decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disqualification_from_the_cli_shows_on_the_event_stream() {
    use crier::contest::lifecycle::ContestState;
    use crier::store::RecordedAction;

    let dir = crate::support::playbooks::quickstart_copy();
    let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let view = service.view();
    let plan = view.plan().expect("a plan");
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the server starts");
    let desk = crier::ops::Desk::new(plan, view.store());
    // The giveaway, drawn: one winner, one reserve.
    let now = chrono::Utc::now();
    let drawn = ContestState {
        announced: true,
        seed: Some("00".repeat(32)),
        drawn_at: Some(now.to_rfc3339()),
        winners: vec!["mastodon:1".into()],
        reserves: vec!["mastodon:2".into()],
        commitment_posted: true,
        winners_told: true,
        ..ContestState::default()
    };
    desk.store
        .put_contest_state(
            "december-giveaway",
            &serde_json::to_string(&drawn).unwrap(),
            crier::store::to_millis(now),
        )
        .unwrap();
    let admin = desk.actor("pr_lead").unwrap();
    let token = crier::ops::tokens::issue(&desk, &admin, "test", None, now)
        .unwrap()
        .secret;
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("http://{bound}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "contest",
            "disqualify",
            "december-giveaway",
            "mastodon:1",
            "--reason",
            "a second account",
            "--by",
            "pr_lead",
            "--path",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if events_in(&text).iter().any(|(e, _)| e == "disqualified") {
                return;
            }
        }
    })
    .await;
    let events = events_in(&text);
    assert!(
        read.is_ok(),
        "no `disqualified` within a minute: {events:?}"
    );
    let disqualified = events.iter().find(|(e, _)| e == "disqualified").unwrap();
    assert_eq!(disqualified.1["contest"], "december-giveaway");
    assert_eq!(disqualified.1["out"], "mastodon:1");
    assert_eq!(disqualified.1["replacement"], "mastodon:2");
    assert_eq!(disqualified.1["by"], "pr_lead");
    // One row in the journal, however often the contest's state is saved after it.
    let state = desk
        .store
        .contest_state("december-giveaway")
        .unwrap()
        .unwrap();
    desk.store
        .put_contest_state("december-giveaway", &state, crier::store::to_millis(now))
        .unwrap();
    let journal: Vec<RecordedAction> = desk
        .store
        .actions_after(0, 100)
        .unwrap()
        .into_iter()
        .map(|record| record.action)
        .filter(|action| matches!(action, RecordedAction::Disqualified { .. }))
        .collect();
    assert_eq!(
        journal,
        vec![RecordedAction::Disqualified {
            contest: "december-giveaway".into(),
            out: "mastodon:1".into(),
            replacement: Some("mastodon:2".into()),
            by: Some("pr_lead".into()),
        }]
    );
    drop(stream);
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .expect("the service stops within a minute")
        .expect("the service stops cleanly");
}

/// A storm of signed hook events from eight senders; `crier run` is killed with SIGKILL in
/// the middle of it and started again. Every event answered `202` has its run, committed
/// once with the run the answer named, and its post delivered once; events committed but
/// not answered before the kill are delivered once too.
#[test]
fn a_hook_storm_killed_mid_way_loses_no_acknowledged_event_and_posts_each_once() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::BufRead;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use crate::support::fake_network::FakeNetwork;
    use crate::support::service::{start, stop};

    const SENDERS: usize = 8;
    const KILL_AFTER: usize = 200;
    const SECRET: &str = "storm-signing-key";
    let network = FakeNetwork::start();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hook.key");
    std::fs::write(&key, SECRET).unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\nhttp: {{ timeout: 5s, connect_timeout: 1s }}\naccounts:\n  sink: {{ network: webhook, url: \"{}\" }}\n",
            network.url()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("storm.yaml"),
        format!(
            "kind: campaign\nname: storm\nhooks:\n  order: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: order }}\n    to: sink\n    text: \"order {{{{ event.n }}}}\"\n",
            key.display()
        ),
    )
    .unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CRIER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let base = loop {
        let line = said
            .recv_timeout(Duration::from_secs(60))
            .expect("crier run says where it serves");
        if let Some(address) = line.strip_prefix("serving the API on ") {
            break address.to_string();
        }
    };

    // Event n → the runs its 202 named.
    let acknowledged: Arc<Mutex<BTreeMap<u64, Vec<i64>>>> = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (client, base) = (client.clone(), base.clone());
            let (acknowledged, next, done) = (acknowledged.clone(), next.clone(), done.clone());
            runtime.spawn(async move {
                // Bounded: the kill ends every sender's loop within a few requests.
                for _ in 0..100_000 {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let body = format!(r#"{{"n":{n}}}"#);
                    let timestamp = chrono::Utc::now().timestamp().to_string();
                    let signature = crier::connectors::webhook::sign(
                        SECRET.as_bytes(),
                        &timestamp,
                        body.as_bytes(),
                    );
                    let answer = client
                        .post(format!("{base}/hooks/order"))
                        .header("x-crier-timestamp", &timestamp)
                        .header("x-crier-signature", signature)
                        .header("idempotency-key", format!("event-{n}"))
                        .body(body)
                        .send()
                        .await;
                    let Ok(answer) = answer else { return };
                    let status = answer.status();
                    let Ok(text) = answer.text().await else {
                        return;
                    };
                    assert_eq!(status, 202, "event {n}: {text}");
                    let accepted: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let runs = accepted["runs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_i64().unwrap())
                        .collect();
                    acknowledged.lock().unwrap().insert(n, runs);
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < KILL_AFTER && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, senders still sending
    child.wait().unwrap();
    done.store(true, Ordering::SeqCst);
    runtime.block_on(async {
        for sender in senders {
            tokio::time::timeout(Duration::from_secs(60), sender)
                .await
                .expect("every sender ends once crier is gone")
                .expect("no sender failed");
        }
    });
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= KILL_AFTER,
        "only {} events acknowledged",
        acknowledged.len()
    );

    // What the killed process committed: every event answered, and maybe some not yet.
    let committed: usize = rusqlite::Connection::open(dir.path().join("crier.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM hook_events", [], |row| {
            row.get::<_, i64>(0)
        })
        .unwrap() as usize;
    assert!(committed >= acknowledged.len());
    let child = start(dir.path());
    let texts = || -> Vec<String> {
        network
            .posts_by_key()
            .values()
            .map(|post| post.body["text"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: BTreeSet<String> = texts().into_iter().collect();
        if delivered.len() >= committed
            && acknowledged
                .keys()
                .all(|n| delivered.contains(&format!("order {n}")))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "committed events not delivered within two minutes of the restart: {} committed, {} acknowledged, {} delivered, {} requests; not delivered: {:?}",
            committed,
            acknowledged.len(),
            delivered.len(),
            network.request_count(),
            acknowledged
                .keys()
                .filter(|n| !delivered.contains(&format!("order {n}")))
                .take(10)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(child);

    let delivered = texts();
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "a post was delivered under two keys"
    );
    let db = rusqlite::Connection::open(dir.path().join("crier.db")).unwrap();
    let stored: BTreeMap<String, String> = db
        .prepare("SELECT key, runs FROM hook_events WHERE hook = 'order'")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (n, runs) in &acknowledged {
        let receipt = stored
            .get(&format!("event-{n}"))
            .unwrap_or_else(|| panic!("acknowledged event {n} is not stored"));
        let receipt: Vec<i64> = serde_json::from_str(receipt).unwrap();
        assert_eq!(&receipt, runs, "event {n}");
    }
    // One run per event committed, each with one send, sent once.
    let (runs, sends, sent): (i64, i64, i64) = db
        .query_row(
            "SELECT (SELECT count(*) FROM runs WHERE playbook = 'storm'),
                    (SELECT count(*) FROM outbox),
                    (SELECT count(*) FROM outbox WHERE state = 'sent')",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(runs as usize, stored.len());
    assert_eq!((sends, sent), (runs, runs));
    assert_eq!(
        delivered.len(),
        stored.len(),
        "every committed event is delivered once"
    );
}

/// The service and its server on `dir`, started in this process; the address it serves on
/// and its desk.
async fn serve(
    dir: &std::path::Path,
) -> (
    crier::engine::service::ServiceHandle,
    std::net::SocketAddr,
    crier::ops::Desk,
) {
    let mut service = Service::start(dir.to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let view = service.view();
    let plan = view.plan().expect("a plan");
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the server starts");
    (service, bound, crier::ops::Desk::new(plan, view.store()))
}

/// A stop while `POST /api/v1/contests/{name}/disqualify` renders the new winner's slow
/// message: the render holds no async worker and is cut short, so the service stops at
/// once; the request is answered 503 (problem+json: crier is stopping), and the contest is
/// as it was, with no announcement and nothing journalled. Asked again once the service is
/// back, its message quick now, the reserve wins instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_the_api_disqualifies_with_a_slow_message_changes_nothing() {
    use crate::hostile::{QUICK_VARS, SLOW_TEXT, slow_vars};
    use chrono::{TimeDelta, Utc};
    use crier::contest::Entry;
    use crier::contest::lifecycle::{self, ContestState};
    use crier::store::{HistoryFilter, RecordedAction};

    let now = Utc::now();
    let day = |days: i64| {
        (now + TimeDelta::days(days))
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    // Drawn ahead of its dates, so the service's own ticks leave it alone.
    let contest = |vars: &str| {
        format!(
            "kind: contest\nname: giveaway\naccount: demo\nvars: {vars}\nannounce:\n  at: \"{}\"\n  text: Reply to win\nentries:\n  from: mentions\n  closes: \"{}\"\ndraw:\n  at: \"{}\"\n  winners: 1\n  reserves: 1\nwinners:\n  dm: '{SLOW_TEXT}'\n",
            day(1),
            day(2),
            day(3)
        )
    };
    let config = PEOPLE.replace("role: admin", "role: editor");
    let dir = folder(&config, &[("giveaway.yaml", &contest(QUICK_VARS))]);
    let (service, bound, desk) = serve(dir.path()).await;
    let entry = |id: &str, author: &str| Entry {
        network: "console".into(),
        id: id.into(),
        author_id: author.into(),
        author: author.into(),
        followers: Some(100),
        account_created: None,
        follows_us: Some(true),
        bot: Some(false),
        text: "me!".into(),
        at: now,
        in_reply_to: None,
        edited_after_close: None,
        deleted_before_close: false,
        checked_at_close: true,
    };
    lifecycle::add_entries(
        desk.store.as_ref(),
        &desk.plan.contests[0],
        vec![entry("1", "ann"), entry("2", "bo")],
        now,
    )
    .unwrap();
    let drawn = ContestState {
        announced: true,
        seed: Some("00".repeat(32)),
        drawn_at: Some(now.to_rfc3339()),
        winners: vec!["console:1".into()],
        reserves: vec!["console:2".into()],
        commitment_posted: true,
        winners_told: true,
        ..ContestState::default()
    };
    desk.store
        .put_contest_state(
            "giveaway",
            &serde_json::to_string(&drawn).unwrap(),
            crier::store::to_millis(now),
        )
        .unwrap();
    let editor = desk.actor("ada").unwrap();
    let token = crier::ops::tokens::issue(&desk, &editor, "test", None, now)
        .unwrap()
        .secret;
    let disqualify = |bound: std::net::SocketAddr| {
        let token = token.clone();
        tokio::spawn(async move {
            let answer = reqwest::Client::new()
                .post(format!(
                    "http://{bound}/api/v1/contests/giveaway/disqualify"
                ))
                .timeout(Duration::from_secs(90))
                .bearer_auth(token)
                .json(&serde_json::json!({ "entry": "console:1", "reason": "a second account" }))
                .send()
                .await
                .ok()?;
            let status = answer.status().as_u16();
            let kind = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Some((status, kind, answer.text().await.unwrap_or_default()))
        })
    };
    let substitutions = |store: &Arc<dyn crier::store::Store>| {
        store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .filter(|run| run.item.starts_with("substitution"))
            .count()
    };
    let journalled = |store: &Arc<dyn crier::store::Store>| {
        store
            .actions_after(0, 100)
            .unwrap()
            .into_iter()
            .filter(|record| matches!(record.action, RecordedAction::Disqualified { .. }))
            .count()
    };

    // The message is slow now: a disqualification loads the files as they are.
    std::fs::write(dir.path().join("giveaway.yaml"), contest(&slow_vars())).unwrap();
    let answer = disqualify(bound);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !answer.is_finished(),
        "answered before the message rendered"
    );
    // A liveness bound, far below the render's length.
    tokio::time::timeout(Duration::from_secs(5), service.stop())
        .await
        .expect("the service stops within 5 s")
        .expect("the service stops cleanly");
    let (status, kind, text) = answer
        .await
        .unwrap()
        .expect("the request was answered, not dropped");
    assert_eq!(status, 503, "{text}");
    assert_eq!(kind, "application/problem+json", "{text}");
    assert!(
        text.contains("crier is stopping; ask again once it is back"),
        "{text}"
    );
    assert_eq!(
        lifecycle::load_state(desk.store.as_ref(), "giveaway").unwrap(),
        drawn,
        "the contest is as it was"
    );
    assert_eq!(substitutions(&desk.store), 0);
    assert_eq!(journalled(&desk.store), 0);

    // Back, the message quick again: the reserve wins instead, announced once.
    std::fs::write(dir.path().join("giveaway.yaml"), contest(QUICK_VARS)).unwrap();
    let (service, bound, _) = serve(dir.path()).await;
    let (status, _, text) = disqualify(bound)
        .await
        .unwrap()
        .expect("the request was answered");
    assert_eq!(status, 200, "{text}");
    let state = lifecycle::load_state(desk.store.as_ref(), "giveaway").unwrap();
    assert_eq!(state.winners, ["console:2"]);
    assert_eq!(state.substitutions.len(), 1);
    assert!(substitutions(&desk.store) >= 1);
    assert_eq!(journalled(&desk.store), 1);
    tokio::time::timeout(Duration::from_secs(60), service.stop())
        .await
        .expect("the service stops within a minute")
        .expect("the service stops cleanly");
}
