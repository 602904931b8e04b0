//! The end-to-end benchmark behind the README's headline figures: crier measured the way
//! users run it. It writes a folder whose calendar has N posts due at the same second to a
//! `webhook` account, points that account at a local HTTP sink over loopback, starts the
//! release binary (`crier run`, its own process and SQLite file) and reports, from what the
//! sink received:
//!
//! - posts/s from the due time to the last delivery, beside the sink's own limit (measured
//!   first in the same run, with a keep-alive load generator against the same sink);
//! - the first delivery after the due time, and lateness (arrival − due) p50/p99/max;
//! - crier's resident memory just before the burst (the plan loaded, nothing sent: idle),
//!   its peak (VmHWM), and its resident memory a few seconds after the burst is over (once
//!   the dispatcher has had nothing to do for a second it gives freed memory back);
//! - crier's CPU time (user + system, from `/proc`) from just before the due time to the
//!   end of the burst, per post: the figure to compare builds by on a loaded machine, where
//!   wall-clock rates say more about the other processes than about crier;
//! - exactly-once: the sink counts requests and unique idempotency keys, and after crier
//!   stops the store must hold N sends, every one `sent`.
//!
//! Run: `scripts/bench-e2e [POSTS…]` (builds the release binary first), or
//! `cargo bench --bench e2e -- 2000 50000` with `target/release/crier` already built.
//! `CRIER_BIN` names another binary (a build from before a change, to compare).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};

/// Bursts measured when no size is given on the command line.
const DEFAULT_BURSTS: &[usize] = &[2_000, 50_000, 100_000];
/// How long the load generator measures the sink alone.
const SINK_PROBE: Duration = Duration::from_secs(3);
/// Requests the load generator keeps in flight (crier's own limit per account is far lower;
/// this finds the sink's ceiling).
const PROBE_CONCURRENCY: usize = 64;
/// The longest a burst may take before the run is given up (bounded: never hangs).
const BURST_TIMEOUT: Duration = Duration::from_secs(300);

/// What the sink saw: each request's idempotency key and arrival (µs since the epoch).
#[derive(Default)]
struct Received {
    requests: Mutex<Vec<(Box<str>, u64)>>,
    count: AtomicU64,
}

impl Received {
    fn reset(&self) {
        self.requests.lock().unwrap().clear();
        self.count.store(0, Ordering::SeqCst);
    }
}

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn accept(State(received): State<Arc<Received>>, headers: HeaderMap) -> &'static str {
    let at = micros_now();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    received.requests.lock().unwrap().push((key.into(), at));
    received.count.fetch_add(1, Ordering::SeqCst);
    "{}"
}

/// The sink, on its own runtime's threads: answers every POST with `{}` (the webhook
/// connector then names the post by its idempotency key).
fn start_sink(runtime: &tokio::runtime::Runtime, received: Arc<Received>) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::post(accept))
        .with_state(received);
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}

/// The sink's own ceiling: keep-alive POSTs of a webhook-sized body for `SINK_PROBE`.
fn probe_sink(runtime: &tokio::runtime::Runtime, url: &str) -> f64 {
    let client = reqwest::Client::new();
    let body = r#"{"idempotency_key":"probe","playbook":"burst","item":"burst.csv:2","text":"post 1","media":[],"reply_to":null,"sent_at":"2027-01-01T00:00:00Z"}"#;
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + SINK_PROBE;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..PROBE_CONCURRENCY {
            let client = client.clone();
            let url = url.to_string();
            tasks.spawn(async move {
                let mut sent = 0u64;
                while tokio::time::Instant::now() < deadline {
                    let reply = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("idempotency-key", format!("probe-{worker}-{sent}"))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    reply.bytes().await.unwrap();
                    sent += 1;
                }
                sent
            });
        }
        let mut total = 0;
        while let Some(sent) = tasks.join_next().await {
            total += sent.unwrap();
        }
        total as f64 / started.elapsed().as_secs_f64()
    })
}

/// The folder `crier run` reads: one webhook account at the sink, N calendar rows due at
/// `due`.
fn write_folder(dir: &Path, url: &str, posts: usize, due: DateTime<Utc>) {
    std::fs::write(
        dir.join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  sink: {{ network: webhook, url: \"{url}\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("burst.yaml"),
        "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n",
    )
    .unwrap();
    let at = due.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut csv = String::with_capacity(posts * 48);
    csv.push_str("at,to,text\n");
    for i in 0..posts {
        let _ = writeln!(csv, "{at},sink,post {i}");
    }
    std::fs::write(dir.join("burst.csv"), csv).unwrap();
}

fn crier_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CRIER_BIN") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/crier");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release --bin crier` (scripts/bench-e2e does)",
        path.display()
    );
    path
}

/// A `/proc/PID/status` figure in MB.
/// The CPU time (user + system) process `pid` has used, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses; utime and
    // stime are the 14th and 15th of the line, the 12th and 13th after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux if it cannot be asked).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn memory(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// How long `crier validate` takes on the folder: the margin before the due time is
/// derived from it, so the service has started before the burst is due.
fn validate_time(binary: &Path, dir: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new(binary)
        .arg("validate")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the generated folder does not validate");
    started.elapsed()
}

struct Burst {
    posts: usize,
    started_after: Duration,
    due_after_launch: Duration,
    first: f64,
    p50: f64,
    p99: f64,
    max: f64,
    rate: f64,
    idle_mb: f64,
    peak_mb: f64,
    after_mb: f64,
    /// crier's CPU time from just before the due time to the end of the burst.
    cpu_s: f64,
    requests: usize,
    unique: usize,
    stored_sent: i64,
    stored_total: i64,
    log_lines: u64,
}

fn stop(child: &mut Child) {
    // SIGTERM: the graceful stop users get from systemd or Ctrl-C.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn burst(binary: &Path, url: &str, received: &Received, posts: usize) -> Burst {
    received.reset();
    let dir = tempfile::tempdir().unwrap();
    // A first folder with a far due time, to time validation; then the real one.
    write_folder(
        dir.path(),
        url,
        posts,
        Utc::now() + chrono::TimeDelta::days(1),
    );
    let validating = validate_time(binary, dir.path());
    let margin = (validating * 3 + Duration::from_secs(2)).max(Duration::from_secs(3));
    let due = Utc::now() + chrono::TimeDelta::from_std(margin).unwrap();
    // Whole seconds, as the calendar row writes it.
    let due = due
        .to_rfc3339_opts(SecondsFormat::Secs, true)
        .parse::<DateTime<Utc>>()
        .unwrap()
        + chrono::TimeDelta::seconds(1);
    write_folder(dir.path(), url, posts, due);
    let launched = Instant::now();
    let due_after_launch = (due - Utc::now()).to_std().unwrap_or_default();
    let mut child = Command::new(binary)
        .arg("run")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log is read (and counted) on a thread; "crier is running" marks start-up done.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let log_lines = Arc::new(AtomicU64::new(0));
    let stderr = child.stderr.take().unwrap();
    let lines = log_lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            lines.fetch_add(1, Ordering::Relaxed);
            if line.contains("crier is running") {
                let _ = ready_tx.send(launched.elapsed());
            }
        }
    });
    let started_after = ready_rx
        .recv_timeout(BURST_TIMEOUT)
        .expect("crier did not start");
    let pid = child.id();
    // Idle: the plan loaded, the burst not yet due.
    let before_due = (due - Utc::now() - chrono::TimeDelta::milliseconds(300))
        .to_std()
        .unwrap_or_default();
    std::thread::sleep(before_due);
    let idle_mb = memory(pid, "VmRSS");
    let cpu_before = cpu_seconds(pid);
    let deadline = Instant::now() + BURST_TIMEOUT;
    while (received.count.load(Ordering::SeqCst) as usize) < posts && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("crier stopped during the burst: {status}");
        }
    }
    // The results are recorded after the last response, and a second after the dispatcher
    // has nothing left to do it gives the burst's memory back.
    std::thread::sleep(Duration::from_secs(4));
    let peak_mb = memory(pid, "VmHWM");
    let after_mb = memory(pid, "VmRSS");
    let cpu_s = cpu_seconds(pid) - cpu_before;
    stop(&mut child);
    let _ = reader.join();

    let requests = received.requests.lock().unwrap();
    let due_us = due.timestamp_micros() as u64;
    let mut lateness: Vec<f64> = requests
        .iter()
        .map(|(_, at)| (*at as f64 - due_us as f64) / 1e6)
        .collect();
    lateness.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| {
        lateness
            .get(((lateness.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let unique = requests
        .iter()
        .map(|(key, _)| key.as_ref())
        .collect::<HashSet<_>>()
        .len();
    let max = pick(1.0);
    let connection = rusqlite::Connection::open(dir.path().join("crier.db")).unwrap();
    let (stored_sent, stored_total) = connection
        .query_row(
            "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FROM outbox",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    Burst {
        posts,
        started_after,
        due_after_launch,
        first: lateness.first().copied().unwrap_or(f64::NAN),
        p50: pick(0.5),
        p99: pick(0.99),
        max,
        rate: requests.len() as f64 / max,
        idle_mb,
        peak_mb,
        after_mb,
        cpu_s,
        requests: requests.len(),
        unique,
        stored_sent,
        stored_total,
        log_lines: log_lines.load(Ordering::Relaxed),
    }
}

/// The 1-minute load average (`/proc/loadavg`): figures on a busy machine are read with it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench --no-run`/`--list` probes
    }
    let bursts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let bursts = if bursts.is_empty() {
        DEFAULT_BURSTS.to_vec()
    } else {
        bursts
    };
    let binary = crier_binary();
    // The sink gets its own two threads: on a 2-core machine it competes with crier for the
    // CPU as a real receiver on the same machine would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let received = Arc::new(Received::default());
    let url = start_sink(&runtime, received.clone());
    let limit = probe_sink(&runtime, &url);
    println!(
        "machine: {} cores, load average {}; sink alone (keep-alive, {PROBE_CONCURRENCY} in flight): {limit:.0} requests/s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    println!(
        "| posts due at once | posts/s (share of the sink) | first delivery after due | lateness p50 / p99 / max | RSS idle / peak / after | CPU per post | exactly once |"
    );
    println!("|---|---|---|---|---|---|---|");
    for posts in bursts {
        let b = burst(&binary, &url, &received, posts);
        let once = b.requests == posts
            && b.unique == posts
            && b.stored_sent == posts as i64
            && b.stored_total == posts as i64;
        println!(
            "| {} | {:.0} ({:.2}) | {:.0} ms | {:.2} / {:.2} / {:.2} s | {:.0} / {:.0} / {:.0} MB | {:.0} µs | {} |",
            b.posts,
            b.rate,
            b.rate / limit,
            b.first * 1000.0,
            b.p50,
            b.p99,
            b.max,
            b.idle_mb,
            b.peak_mb,
            b.after_mb,
            b.cpu_s * 1e6 / b.posts as f64,
            if once {
                "yes".to_string()
            } else {
                format!(
                    "NO: {} requests, {} unique keys, {} of {} stored sends sent",
                    b.requests, b.unique, b.stored_sent, b.stored_total
                )
            }
        );
        eprintln!(
            "  ({} posts: service started {:.2} s after launch, due {:.2} s after launch; {} log lines; load average {} after)",
            b.posts,
            b.started_after.as_secs_f64(),
            b.due_after_launch.as_secs_f64(),
            b.log_lines,
            load_average()
        );
    }
}
