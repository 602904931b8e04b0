//! The inbound-events benchmark: signed hook events through `crier run` as users run it.
//! The release binary serves a folder whose hook fires one post with a condition on the
//! event (`when: event.stars >= 1`) and a text rendered from it, to a `webhook` account at a
//! local HTTP sink; every event is committed to the SQLite file (WAL, `synchronous=FULL`)
//! before its `202`. It reports:
//!
//! - the machine's limit for this load, measured in the same run: the same senders against a
//!   receiver that only checks each signature and answers `202` (nothing stored), for `PROBE`;
//! - accepted events/s: senders with keep-alive connections post signed events as fast as
//!   `202`s come back, for `FLOOD`, and its share of that limit;
//! - at a steady rate (5,000 events/s by default, for `STEADY`): the time from each
//!   request's start to its post's arrival at the sink, p50/p99/max, and how many arrived;
//!   the time to each `202` (p50/p99), which tells the receiving side from the sending one;
//! - crier's CPU time (user + system, from `/proc`) in each phase, per event accepted: the
//!   figure to compare builds by on a busy machine;
//! - exactly once: the sink counts posts by the event number in their text. A post that
//!   arrived twice is explained from the store: whether both requests carried one
//!   idempotency key (one send, resent) and what crier recorded of its attempts (a failed
//!   attempt's reason, or a claim taken back when its lease passed).
//!
//! Run: `scripts/bench-hooks [RATE]` (builds the release binary first), or
//! `cargo bench --bench hooks -- 5000` with `target/release/crier` already built.
//! `CRIER_BIN` names another binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;

const SECRET: &str = "bench-signing-key";
/// How long the flood of events lasts.
const FLOOD: Duration = Duration::from_secs(10);
/// How long the steady rate lasts.
const STEADY: Duration = Duration::from_secs(10);
/// How long the same senders measure a receiver that stores nothing.
const PROBE: Duration = Duration::from_secs(3);
/// Connections the flood keeps busy.
const FLOOD_SENDERS: usize = 64;
/// The longest the sink is waited for after the senders stop (bounded: never hangs).
const DRAIN: Duration = Duration::from_secs(180);

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Event number → arrivals at the sink (µs since the epoch) and their idempotency keys.
#[derive(Default)]
struct Sink {
    arrivals: Mutex<HashMap<u64, Vec<(u64, String)>>>,
    count: AtomicU64,
}

async fn accept(
    State(sink): State<Arc<Sink>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> &'static str {
    let at = micros_now();
    let key = headers
        .get("idempotency-key")
        .and_then(|k| k.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let post: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let n = post["text"]
        .as_str()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    sink.arrivals
        .lock()
        .unwrap()
        .entry(n)
        .or_default()
        .push((at, key));
    sink.count.fetch_add(1, Ordering::SeqCst);
    "{}"
}

fn start_sink(runtime: &tokio::runtime::Runtime, sink: Arc<Sink>) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/", axum::routing::post(accept))
        .with_state(sink);
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}

fn write_folder(dir: &Path, sink: &str) {
    std::fs::write(dir.join("hook.key"), SECRET).unwrap();
    std::fs::write(
        dir.join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  sink: {{ network: webhook, url: \"{sink}\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("orders.yaml"),
        format!(
            "kind: campaign\nname: orders\nhooks:\n  order: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: order }}\n    when: 'event.stars >= 1'\n    to: sink\n    text: \"Thank you, {{{{ event.author }}}}! order {{{{ event.n }}}}\"\n",
            dir.join("hook.key").display()
        ),
    )
    .unwrap();
}

fn crier_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CRIER_BIN") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/crier");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release --bin crier` (scripts/bench-hooks does)",
        path.display()
    );
    path
}

/// `crier run` on `dir`, and the address it serves on.
fn start_crier(binary: &Path, dir: &Path) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["run", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    while let Ok(line) = said.recv_timeout(Duration::from_secs(120)) {
        if let Some(address) = line.strip_prefix("serving the API on ") {
            return (child, address.to_string());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("crier run did not start");
}

fn stop(child: &mut Child) {
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

/// One signed event `n`; its answer's status.
async fn post_event(client: &reqwest::Client, url: &str, n: u64) -> Result<u16, reqwest::Error> {
    let body = format!(r#"{{"n":{n},"author":"Ann","stars":5}}"#);
    let timestamp = (micros_now() / 1_000_000).to_string();
    let signature =
        crier::connectors::webhook::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-crier-timestamp", timestamp)
        .header("x-crier-signature", signature)
        .header("idempotency-key", format!("event-{n}"))
        .body(body)
        .send()
        .await?;
    let status = answer.status().as_u16();
    answer.bytes().await?;
    Ok(status)
}

fn pick(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Waits (bounded) until the sink holds `count` events.
fn drain(sink: &Sink, count: usize) {
    let deadline = Instant::now() + DRAIN;
    while sink.arrivals.lock().unwrap().len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exactly_once(sink: &Sink, first: u64, accepted: &[u64]) -> String {
    let arrivals = sink.arrivals.lock().unwrap();
    let missing = accepted
        .iter()
        .filter(|n| !arrivals.contains_key(n))
        .count();
    let twice = arrivals
        .iter()
        .filter(|(n, at)| **n >= first && at.len() > 1)
        .count();
    if missing == 0 && twice == 0 {
        "yes".into()
    } else {
        format!("NO: {missing} missing, {twice} twice")
    }
}

/// For each event whose post arrived more than once: its keys, and what the store recorded
/// of each send (attempts, state, every failed attempt's reason). A send resent with one
/// key after a timeout shows that timeout; one resent with no failed attempt recorded was
/// taken back when its claim's lease passed.
fn explain_twice(sink: &Sink, db: &Path) -> Vec<String> {
    let arrivals = sink.arrivals.lock().unwrap();
    let mut twice: Vec<(&u64, &Vec<(u64, String)>)> =
        arrivals.iter().filter(|(_, at)| at.len() > 1).collect();
    twice.sort();
    let Ok(store) = rusqlite::Connection::open(db) else {
        return vec!["(the store could not be opened)".into()];
    };
    let mut lines = Vec::new();
    for (n, at) in twice.iter().take(20) {
        let mut keys: Vec<&str> = at.iter().map(|(_, key)| key.as_str()).collect();
        keys.sort();
        keys.dedup();
        let apart = (at.iter().map(|a| a.0).max().unwrap() - at.iter().map(|a| a.0).min().unwrap())
            as f64
            / 1000.0;
        let mut line = format!(
            "event {n}: {} arrivals {apart:.0} ms apart, {} key(s)",
            at.len(),
            keys.len()
        );
        for key in keys {
            let send = store.query_row(
                "SELECT id, attempts, state, coalesce(error, '') FROM outbox WHERE idempotency_key = ?1",
                [key],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            );
            let Ok((id, attempts, state, error)) = send else {
                line.push_str(&format!("; key {key}: no send stored"));
                continue;
            };
            let failed: Vec<String> = store
                .prepare("SELECT outcome, coalesce(detail, '') FROM attempts WHERE outbox_id = ?1 ORDER BY id")
                .and_then(|mut query| {
                    query
                        .query_map([id], |row| {
                            Ok(format!("{}: {}", row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                        })?
                        .collect()
                })
                .unwrap_or_default();
            line.push_str(&format!(
                "; send {id}: {attempts} attempts, {state}{}, failed attempts recorded: {}",
                if error.is_empty() {
                    String::new()
                } else {
                    format!(" ({error})")
                },
                if failed.is_empty() {
                    "none (its claim was taken back)".to_string()
                } else {
                    failed.join(" | ")
                }
            ));
        }
        lines.push(line);
    }
    lines
}

/// CPU time (user + system) `pid` has used so far, in seconds (`/proc/PID/stat`).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The fields after the command's name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / clock_ticks(),
        _ => f64::NAN,
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The 1-minute load average (`/proc/loadavg`): figures on a busy machine are read with it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// `FLOOD_SENDERS` keep-alive senders posting signed events to `url` as fast as answers come
/// back, for `length`, numbered from 0: the events answered `202`, how many were not,
/// and the seconds it took.
fn flood(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    length: Duration,
) -> (Vec<u64>, u64, f64) {
    let next = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop_flood = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let accepted = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..FLOOD_SENDERS {
            let (client, url, next) = (client.clone(), url.to_string(), next.clone());
            let (refused, stop_flood) = (refused.clone(), stop_flood.clone());
            tasks.spawn(async move {
                let mut accepted = Vec::new();
                while !stop_flood.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    match post_event(&client, &url, n).await {
                        Ok(202) => accepted.push(n),
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                accepted
            });
        }
        tokio::time::sleep(length).await;
        stop_flood.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        while let Some(accepted) = tasks.join_next().await {
            all.extend(accepted.unwrap());
        }
        all
    });
    let took = started.elapsed().as_secs_f64();
    (accepted, refused.load(Ordering::SeqCst), took)
}

/// A receiver that checks each event's signature and JSON and answers `202` at once, on a
/// runtime of its own: the most this machine's loopback and these senders allow.
fn start_bare_receiver(runtime: &tokio::runtime::Runtime) -> String {
    async fn receive(headers: axum::http::HeaderMap, body: Bytes) -> axum::http::StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        let signed = crier::connectors::webhook::verify_signature(
            SECRET.as_bytes(),
            header("x-crier-timestamp"),
            &body,
            header("x-crier-signature"),
        );
        let event: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        if signed && event.is_ok() {
            axum::http::StatusCode::ACCEPTED
        } else {
            axum::http::StatusCode::UNAUTHORIZED
        }
    }
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/hooks/order", axum::routing::post(receive));
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hooks/order")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let rate: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5_000);
    let binary = crier_binary();
    let load_at_start = load_average();
    // The sink and the senders share two threads of their own: on a 2-core machine they
    // compete with crier for the CPU, as senders and a receiver on the same machine would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = Arc::new(Sink::default());
    let sink_url = start_sink(&runtime, sink.clone());
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &sink_url);
    let (mut child, base) = start_crier(&binary, dir.path());
    let url = format!("{base}/hooks/order");
    let pid = child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(FLOOD_SENDERS)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // The machine's limit for this load: the same senders against a receiver that only
    // checks each signature and answers at once (nothing stored, nothing delivered).
    let probe_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let probe_url = start_bare_receiver(&probe_runtime);
    let (probe_accepted, _, probe_time) = flood(&runtime, &client, &probe_url, PROBE);
    let limit = probe_accepted.len() as f64 / probe_time;
    drop(probe_runtime);

    // The flood: as fast as 202s come back.
    let cpu_at_start = cpu_seconds(pid);
    let (accepted_flood, refused, flood_time) = flood(&runtime, &client, &url, FLOOD);
    let flood_rate = accepted_flood.len() as f64 / flood_time;
    drain(&sink, accepted_flood.len());
    let flood_delivered = sink.arrivals.lock().unwrap().len();
    let flood_once = exactly_once(&sink, 0, &accepted_flood);
    let cpu_after_flood = cpu_seconds(pid);

    // The steady rate: one event every 1/rate s, each request timed from its start.
    // Every number the flood handed out was answered or counted as refused.
    let first = accepted_flood.len() as u64 + refused;
    let total = (rate as f64 * STEADY.as_secs_f64()) as u64;
    let started_at: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let answered_in: Arc<Mutex<Vec<f64>>> = Arc::default();
    let steady_accepted: Vec<u64> = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let began = tokio::time::Instant::now();
        for i in 0..total {
            tokio::time::sleep_until(began + interval * i as u32).await;
            let n = first + i;
            let (client, url, started_at) = (client.clone(), url.clone(), started_at.clone());
            let answered_in = answered_in.clone();
            tasks.spawn(async move {
                let start = micros_now();
                started_at.lock().unwrap().insert(n, start);
                let accepted = matches!(post_event(&client, &url, n).await, Ok(202));
                if accepted {
                    let took = (micros_now() - start) as f64 / 1000.0;
                    answered_in.lock().unwrap().push(took);
                }
                accepted.then_some(n)
            });
        }
        let mut accepted = Vec::new();
        while let Some(n) = tasks.join_next().await {
            accepted.extend(n.unwrap());
        }
        accepted
    });
    drain(&sink, flood_delivered + steady_accepted.len());
    let cpu_after_steady = cpu_seconds(pid);
    stop(&mut child);
    let arrivals = sink.arrivals.lock().unwrap();
    let started_at = started_at.lock().unwrap();
    let mut latency: Vec<f64> = steady_accepted
        .iter()
        .filter_map(|n| {
            let arrived = arrivals.get(n)?.first()?.0;
            Some((arrived as f64 - *started_at.get(n)? as f64) / 1000.0)
        })
        .collect();
    latency.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let delivered = latency.len();
    drop(arrivals);
    let steady_once = exactly_once(&sink, first, &steady_accepted);
    let twice = explain_twice(&sink, &dir.path().join("crier.db"));
    let mut answered_in = answered_in.lock().unwrap().clone();
    answered_in.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Each phase's CPU includes delivering its posts (the drain is inside it).
    let per_event = |seconds: f64, events: usize| seconds * 1e6 / events.max(1) as f64;

    println!(
        "machine: {} cores, load average {} at the start, {} at the end",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_at_start,
        load_average()
    );
    println!(
        "the same senders against a receiver that only checks each signature and answers 202 ({:.0} s): {limit:.0} events/s; the flood below is {:.2} of it",
        probe_time,
        flood_rate / limit
    );
    println!(
        "| load | accepted | events/s accepted | request → 202 p50 / p99 | request → delivery p50 / p99 / max | crier CPU per event | exactly once |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| flood, {FLOOD_SENDERS} connections, {:.0} s | {} ({} refused or failed) | {flood_rate:.0} | – | – | {:.0} µs | {flood_once} |",
        flood_time,
        accepted_flood.len(),
        refused,
        per_event(cpu_after_flood - cpu_at_start, accepted_flood.len()),
    );
    println!(
        "| {rate} events/s, {} s | {} of {total}, {delivered} delivered | {:.0} | {:.1} / {:.1} ms | {:.1} / {:.1} / {:.1} ms | {:.0} µs | {steady_once} |",
        STEADY.as_secs(),
        steady_accepted.len(),
        steady_accepted.len() as f64 / STEADY.as_secs_f64(),
        pick(&answered_in, 0.5),
        pick(&answered_in, 0.99),
        pick(&latency, 0.5),
        pick(&latency, 0.99),
        pick(&latency, 1.0),
        per_event(cpu_after_steady - cpu_after_flood, steady_accepted.len()),
    );
    for line in twice {
        println!("arrived twice: {line}");
    }
}
