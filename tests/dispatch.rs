//! Exactly once, end to end: `crier run` as a child process against the fake webhook
//! receiver on 127.0.0.1, killed with SIGKILL in the middle of a burst and restarted, and
//! against a network that fails in every way it can. Every post must be created on the
//! network exactly once: each post's text appears once, no post is missing, and a resend
//! after an outcome-unknown failure carries the same idempotency key (the receiver, like
//! Mastodon, answers a repeated key with the post it already made).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

use crate::support::fake_network::{FakeNetwork, Fault, Outcome};
use crate::support::service::{hang_up, replace_file, start, start_logged, stop, wait_for_log};

/// A folder whose one campaign sends `count` posts through the webhook at one instant, a
/// few seconds from now.
fn burst(network: &FakeNetwork, count: usize, timeout: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\nhttp: {{ timeout: {timeout}, connect_timeout: 1s }}\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
        network.url()
    );
    std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
    let at = (Utc::now() + chrono::TimeDelta::seconds(2)).format("%Y-%m-%d %H:%M:%S");
    let mut csv = String::from("at,to,text\n");
    for n in 0..count {
        csv.push_str(&format!("{at},hook,post {n}\n"));
    }
    std::fs::write(dir.path().join("burst.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("burst.yaml"),
        "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n    missed: all\n",
    )
    .unwrap();
    dir
}

/// Waits (bounded) until the network holds `count` posts.
fn wait_for(network: &FakeNetwork, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while network.created_count() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every text once, none missing.
fn assert_exactly_once(network: &FakeNetwork, count: usize) {
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for post in network.posts_by_key().values() {
        let text = post.body["text"].as_str().unwrap_or_default().to_string();
        *texts.entry(text).or_default() += 1;
    }
    let twice: Vec<_> = texts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    let missing: Vec<usize> = (0..count)
        .filter(|n| !texts.contains_key(&format!("post {n}")))
        .collect();
    assert!(missing.is_empty(), "never posted: {missing:?}");
    assert_eq!(network.created_count(), count);
}

#[test]
fn sigkill_during_a_burst_loses_nothing_and_sends_nothing_twice() {
    const POSTS: usize = 240;
    let network = FakeNetwork::start();
    // Some failures stretch the burst over seconds, so the kills land while it is in flight.
    network.set_random_faults(
        0.3,
        vec![
            Fault::ServerError,
            Fault::AcceptThenDrop,
            Fault::RateLimited {
                retry_after: "1".into(),
            },
        ],
        7,
    );
    let dir = burst(&network, POSTS, "2s");
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..6 {
        let mut child = start(dir.path());
        std::thread::sleep(Duration::from_millis(rng.gen_range(700..2500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    network.clear_faults();
    let child = start(dir.path());
    wait_for(&network, POSTS, Duration::from_secs(60));
    stop(child);
    assert_exactly_once(&network, POSTS);
}

/// A receiver that takes a minute to answer does not hold a stop: sends in flight get a
/// bounded time to finish (then they are looked up after the next start), and the engine a
/// bounded time to end its step. A stop used to wait 30 s for such a send.
#[test]
fn a_stop_does_not_wait_long_for_a_receiver_that_does_not_answer() {
    let network = FakeNetwork::start();
    network.set_random_faults(1.0, vec![Fault::Slow(Duration::from_secs(60))], 5);
    let dir = burst(&network, 2, "120s");
    let child = start(dir.path());
    wait_for(&network, 1, Duration::from_secs(60));
    assert!(
        network.created_count() >= 1,
        "no request reached the receiver"
    );
    let pid = child.id().to_string();
    let mut child = child;
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    // 10 s for the sends in flight and 1 s for the engine's step, with room for a loaded
    // machine to start the process's exit.
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut exited = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(exited, "crier did not stop within 25 s of SIGINT");
}

/// Threads that spin until dropped: the machine loaded on purpose, more than its cores.
struct Spinners {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spinners {
    fn start(count: usize) -> Spinners {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Spinners { stop, threads }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// SIGINT in the middle of a burst of thousands of posts to a slow receiver, while spinning
/// threads keep every core busy: crier stops within a generous bound, and after a restart
/// every post is created exactly once.
#[test]
fn sigint_during_a_burst_on_a_loaded_machine_stops_and_loses_nothing() {
    const POSTS: usize = 3000;
    let network = FakeNetwork::start();
    network.set_random_faults(1.0, vec![Fault::Slow(Duration::from_millis(300))], 11);
    let dir = burst(&network, POSTS, "5s");
    let log_dir = TempDir::new().unwrap();
    let log = log_dir.path().join("crier.log");
    let _load = Spinners::start(4);
    let mut child = start_logged(dir.path(), &log);
    wait_for(&network, 1, Duration::from_secs(120));
    assert!(network.created_count() >= 1, "the burst did not start");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut exited = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exited, "crier did not stop within 20 s of SIGINT:\n{text}");
    assert!(
        network.created_count() < POSTS,
        "the stop came after the burst"
    );
    network.clear_faults();
    let child = start(dir.path());
    wait_for(&network, POSTS, Duration::from_secs(180));
    stop(child);
    assert_exactly_once(&network, POSTS);
}

#[test]
fn every_fault_ends_in_exactly_one_post_and_no_retry_is_early() {
    const POSTS: usize = 60;
    let network = FakeNetwork::start();
    network.set_random_faults(
        0.4,
        vec![
            Fault::ServerError,
            Fault::RateLimited {
                retry_after: "2".into(),
            },
            Fault::RateLimitedNoHint,
            Fault::Slow(Duration::from_secs(3)),
            Fault::AcceptThenDrop,
        ],
        11,
    );
    let dir = burst(&network, POSTS, "1s");
    let child = start(dir.path());
    // The fakes keep failing 40% of requests, so give them time, then let crier finish clean.
    wait_for(&network, POSTS, Duration::from_secs(45));
    network.clear_faults();
    wait_for(&network, POSTS, Duration::from_secs(45));
    stop(child);
    assert_exactly_once(&network, POSTS);

    // After a 429 that said "wait 2 s", the same post is not asked for again sooner.
    let requests = network.requests();
    for (index, request) in requests.iter().enumerate() {
        if request.fault
            != Some(Fault::RateLimited {
                retry_after: "2".into(),
            })
        {
            continue;
        }
        if let Some(next) = requests[index + 1..].iter().find(|r| r.key == request.key) {
            let waited = next.at - request.at;
            assert!(
                waited >= Duration::from_millis(1990),
                "retried after {waited:?}, asked to wait 2 s"
            );
        }
    }
    assert!(
        requests.iter().any(|r| r.outcome == Outcome::Refused),
        "the faults were exercised"
    );
}

fn write_campaign(dir: &Path, at: &str, items: &[&str]) {
    std::fs::write(dir.join("launch.yaml"), campaign(at, items)).unwrap();
}

/// Reloading: an invalid edit keeps the running revision, and a post deleted before its
/// time never goes out. Each edit is followed by SIGHUP and a wait for the service to say
/// what it did, so no edit races the file watcher or the post's time.
#[test]
fn edits_reload_and_a_deleted_post_never_goes_out() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    let logs = TempDir::new().unwrap();
    let log = logs.path().join("run.log");
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
            network.url()
        ),
    )
    .unwrap();
    let launch = dir.path().join("launch.yaml");
    let at = |seconds| {
        (Utc::now() + chrono::TimeDelta::seconds(seconds))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    replace_file(&launch, &campaign(&at(86_400), &["placeholder"]));
    let child = start_logged(dir.path(), &log);
    wait_for_log(&log, "crier is running", 1, Duration::from_secs(40));
    // Both posts are due well after the three reloads below, which take milliseconds.
    let due = Utc::now() + chrono::TimeDelta::seconds(10);
    let due_text = due.format("%Y-%m-%d %H:%M:%S").to_string();
    replace_file(&launch, &campaign(&due_text, &["kept", "deleted"]));
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 1, Duration::from_secs(20));
    replace_file(&launch, "kind: campaign\nname: launch\nposts: [oops\n");
    hang_up(&child);
    wait_for_log(
        &log,
        "keeping the running revision",
        1,
        Duration::from_secs(20),
    );
    replace_file(&launch, &campaign(&due_text, &["kept"]));
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 2, Duration::from_secs(20));
    let reloaded_before_due = Utc::now() < due;
    // `kept` and `deleted` fire at the same instant: once `kept` is out, `deleted` is past.
    wait_for(&network, 1, Duration::from_secs(40));
    stop(child);
    let texts: Vec<String> = network
        .posts_by_key()
        .values()
        .map(|p| p.body["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        texts,
        ["kept"],
        "reloaded before the posts were due: {reloaded_before_due}"
    );
    let history = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["history", dir.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let items: Vec<String> = String::from_utf8(history.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let run: serde_json::Value = serde_json::from_str(line).unwrap();
            run["item"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(items, ["kept"], "no run was ever made for `deleted`");
}

/// A campaign `launch` whose posts (named and worded `items`) are all due `at`.
fn campaign(at: &str, items: &[&str]) -> String {
    let mut text = String::from("kind: campaign\nname: launch\nposts:\n");
    for item in items {
        text.push_str(&format!(
            "  - id: {item}\n    at: \"{at}\"\n    to: hook\n    text: \"{item}\"\n"
        ));
    }
    text
}

/// `trigger` sends now; `history` and `status` show it.
#[test]
fn trigger_then_history_and_status() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\npeople:\n  olena: {{ notify: hook }}\n",
            network.url()
        ),
    )
    .unwrap();
    write_campaign(dir.path(), "2030-01-01 10:00", &["hello"]);
    let crier = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let path = dir.path().to_str().unwrap();
    let triggered = crier(&[
        "trigger", "launch", "hello", "--path", path, "--by", "olena",
    ]);
    assert!(
        triggered.contains("launch/hello") && triggered.contains("succeeded"),
        "{triggered}"
    );
    assert!(triggered.contains("hook: sent"), "{triggered}");
    assert_eq!(network.created_count(), 1);

    let history = crier(&["history", path, "--format", "json"]);
    let run: serde_json::Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(run["state"], "succeeded");
    assert_eq!(run["outbox"][0]["state"], "sent");
    assert_eq!(run["reason"], "triggered by hand by olena");

    let status = crier(&["status", path]);
    assert!(status.contains("runs: 1 succeeded"), "{status}");

    let unknown = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["trigger", "launch", "helo", "--path", path, "--by", "olena"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `launch/hello`?"));
}

/// On a network that cannot be asked whether a post went out (Slack here), a send whose
/// outcome is unknown is recorded as unconfirmed and never resent: it cannot appear twice.
#[test]
fn an_unconfirmable_send_is_never_resent() {
    use crate::support::fake_slack::{FakeSlack, Fault as SlackFault};
    let slack = FakeSlack::start("hook-secret");
    slack.push_fault(SlackFault::AcceptThenDrop);
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  team: { network: slack, webhook: env:CRIER_TEST_SLACK_HOOK }\npeople:\n  olena: { notify: team }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("launch.yaml"),
        "kind: campaign\nname: launch\nposts:\n  - id: hello\n    at: 2030-01-01 10:00\n    to: team\n    text: Hello\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let crier = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .env("CRIER_TEST_SLACK_HOOK", slack.url_with("hook-secret"))
            .output()
            .unwrap()
    };
    crier(&[
        "trigger", "launch", "hello", "--path", path, "--by", "olena",
    ]);
    let history = String::from_utf8(crier(&["history", path, "--format", "json"]).stdout).unwrap();
    let run: serde_json::Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(run["outbox"][0]["state"], "failed", "{run}");
    let error = run["outbox"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("unconfirmed: ") && error.contains("did not resend"),
        "{error}"
    );
    // The post did reach Slack, once.
    assert_eq!(slack.messages(), ["Hello"]);
}

/// Reloading rebuilds the accounts' connectors: an account moved to another receiver posts
/// there; an edit whose secret is missing keeps the running revision and its connectors.
/// Each edit is followed by SIGHUP and a wait for the service to say what it did.
#[test]
fn a_reload_rebuilds_the_accounts() {
    let first = FakeNetwork::start();
    let second = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    let logs = TempDir::new().unwrap();
    let log = logs.path().join("run.log");
    let config_file = dir.path().join("crier.yaml");
    let launch = dir.path().join("launch.yaml");
    let config = |url: String, secret: &str| {
        format!(
            "timezone: UTC\naccounts:\n  hook: {{ network: webhook, url: \"{url}\"{secret} }}\n"
        )
    };
    let at = |seconds| {
        (Utc::now() + chrono::TimeDelta::seconds(seconds))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let posts = |items: &[(&str, &str)]| {
        let mut text = String::from("kind: campaign\nname: launch\nposts:\n");
        for (item, at) in items {
            text.push_str(&format!(
                "  - {{ id: {item}, at: \"{at}\", to: hook, text: {item} }}\n"
            ));
        }
        text
    };
    replace_file(&config_file, &config(first.url(), ""));
    replace_file(&launch, &posts(&[("placeholder", &at(86_400))]));
    let child = start_logged(dir.path(), &log);
    wait_for_log(&log, "crier is running", 1, Duration::from_secs(40));
    // `early` is due well after the invalid edit below is in (a reload takes milliseconds).
    let early = at(8);
    replace_file(&launch, &posts(&[("early", &early)]));
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 1, Duration::from_secs(20));
    // Invalid: the secret is not set. The running revision (the first receiver) stays...
    replace_file(
        &config_file,
        &config(second.url(), ", secret: env:CRIER_TEST_NEVER_SET"),
    );
    hang_up(&child);
    wait_for_log(
        &log,
        "keeping the running revision",
        1,
        Duration::from_secs(20),
    );
    wait_for(&first, 1, Duration::from_secs(40));
    // ...until a valid edit moves the account; `late` is added only once it is in.
    replace_file(&config_file, &config(second.url(), ""));
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 2, Duration::from_secs(20));
    replace_file(&launch, &posts(&[("early", &early), ("late", &at(2))]));
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 3, Duration::from_secs(20));
    wait_for(&second, 1, Duration::from_secs(40));
    stop(child);
    let texts = |network: &FakeNetwork| -> Vec<String> {
        network
            .posts_by_key()
            .values()
            .map(|p| p.body["text"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(texts(&first), ["early"]);
    assert_eq!(texts(&second), ["late"]);
}

/// One service per store: a second `crier run` on the same store refuses to start and
/// names the first one's pid; the lock goes with the first service, even when it is killed.
#[test]
fn a_second_service_on_the_same_store_refuses_to_start() {
    let network = FakeNetwork::start();
    let dir = burst(&network, 1, "5s");
    let second_attempt = |dir: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["run", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the second service did not refuse to start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    };
    let mut first = start(dir.path());
    // Wait (bounded) until the first service holds the lock.
    let lock = dir.path().join("crier.db.lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != first.id().to_string() {
        assert!(
            Instant::now() < deadline,
            "the first service never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = second_attempt(dir.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another `crier run` is using the store `{}` (pid {})",
            dir.path().join("crier.db").display(),
            first.id()
        )),
        "{stderr}"
    );
    // Killed outright, the first service leaves no stale lock.
    first.kill().unwrap();
    first.wait().unwrap();
    let again = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != again.id().to_string() {
        assert!(
            Instant::now() < deadline,
            "a new service could not take the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(again);
}

/// `metrics(account)` in a `when:` reads the latest snapshot `crier run` took from the
/// network (here a fake Mastodon reporting 1,234 followers), not zeros.
#[test]
fn conditions_see_the_metrics_the_network_reported() {
    use crate::support::fake_mastodon::{FakeMastodon, TOKEN};
    let mastodon = FakeMastodon::start();
    mastodon.set_followers(1234);
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  masto: {{ network: mastodon, server: '{}', token: env:CRIER_TEST_MASTO }}\n",
            mastodon.url()
        ),
    )
    .unwrap();
    let at = (Utc::now() + chrono::TimeDelta::seconds(6)).format("%Y-%m-%d %H:%M:%S");
    std::fs::write(
        dir.path().join("launch.yaml"),
        format!(
            "kind: campaign\nname: launch\nposts:\n  - {{ id: big, at: \"{at}\", to: masto, text: over a thousand, when: 'metrics(\"masto\").followers > 1000' }}\n  - {{ id: huge, at: \"{at}\", to: masto, text: over five thousand, when: 'metrics(\"masto\").followers > 5000' }}\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.path().to_str().unwrap()])
        .env("CRIER_TEST_MASTO", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while mastodon.statuses().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both fired at the same instant; give the skipped one's record a moment.
    std::thread::sleep(Duration::from_millis(1000));
    stop(child);
    let texts: Vec<String> = mastodon.statuses().iter().map(|s| s.text.clone()).collect();
    assert_eq!(texts, ["over a thousand"]);
    let history = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["history", dir.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let runs: Vec<serde_json::Value> = String::from_utf8(history.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let huge = runs
        .iter()
        .find(|r| r["item"] == "huge")
        .expect("a run for `huge`");
    assert_eq!(huge["state"], "skipped", "{huge}");
}

/// A calendar edited alone is a change to the playbooks: the reload takes its new rows.
#[test]
fn editing_only_a_calendar_reloads_it() {
    let dir = TempDir::new().unwrap();
    let logs = TempDir::new().unwrap();
    let log = logs.path().join("run.log");
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  brand: { network: console }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sale.yaml"),
        "kind: campaign\nname: sale\nposts:\n  - calendar: posts.csv\n",
    )
    .unwrap();
    let tomorrow = (Utc::now() + chrono::TimeDelta::days(1)).format("%Y-%m-%d");
    let calendar = dir.path().join("posts.csv");
    replace_file(
        &calendar,
        &format!("at,to,text,media\n{tomorrow} 10:00,brand,First,\n"),
    );
    let child = start_logged(dir.path(), &log);
    wait_for_log(&log, "crier is running", 1, Duration::from_secs(40));
    replace_file(
        &calendar,
        &format!(
            "at,to,text,media\n{tomorrow} 10:00,brand,First,\n{tomorrow} 11:00,brand,Second,\n"
        ),
    );
    hang_up(&child);
    wait_for_log(&log, "reloaded the playbooks", 1, Duration::from_secs(20));
    stop(child);
    // The service reloaded (the log above); the new row is an item of the plan it loaded.
    let plan = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "plan",
            dir.path().to_str().unwrap(),
            "--days",
            "3",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.contains("\"item\":\"posts.csv:3\""), "{plan}");
}

/// The sends of the store in `dir`: (sent, failed as unconfirmed, still pending or sending).
fn outbox_counts(dir: &Path) -> (usize, usize, usize) {
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, ViewStore};
    let store = SqliteStore::open(&dir.join("crier.db")).unwrap();
    let runs = store.history(&HistoryFilter::default()).unwrap();
    let sends: Vec<_> = runs.iter().flat_map(|run| &run.outbox).collect();
    let sent = sends
        .iter()
        .filter(|o| o.state == OutboxState::Sent)
        .count();
    let unconfirmed = sends
        .iter()
        .filter(|o| {
            o.state == OutboxState::Failed
                && o.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("unconfirmed"))
        })
        .count();
    let open = sends
        .iter()
        .filter(|o| matches!(o.state, OutboxState::Pending | OutboxState::Sending))
        .count();
    (sent, unconfirmed, open)
}

/// A Telegram channel that cannot be asked whether a post arrived: after SIGKILL in the
/// middle of a burst, only the requests that had left are in doubt (recorded unconfirmed,
/// never resent); every send claimed but not started goes out after the restart.
#[test]
fn a_kill_leaves_in_doubt_only_the_requests_in_flight() {
    use crate::support::fake_telegram::{CHANNEL, FakeTelegram, Fault as TelegramFault};
    // Within Telegram's pace for one channel (20 a minute) before and after the kill.
    const POSTS: usize = 30;
    const TOKEN: &str = "123456:AAF-test_token-9f8e7d";
    let telegram = FakeTelegram::start(TOKEN);
    // Every request takes a while, so the burst lasts seconds and the kill lands inside it.
    for _ in 0..POSTS {
        telegram.push_fault(TelegramFault::Slow(Duration::from_millis(150)));
    }
    let dir = TempDir::new().unwrap();
    let token_file = dir.path().join("telegram.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\nhttp: {{ timeout: 5s, connect_timeout: 1s }}\naccounts:\n  tg: {{ network: telegram, token: \"file:{}\", chat: '{CHANNEL}', server: '{}' }}\n",
            token_file.display(),
            telegram.url()
        ),
    )
    .unwrap();
    let at = (Utc::now() + chrono::TimeDelta::seconds(2)).format("%Y-%m-%d %H:%M:%S");
    let mut csv = String::from("at,to,text\n");
    for n in 0..POSTS {
        csv.push_str(&format!("{at},tg,post {n}\n"));
    }
    std::fs::write(dir.path().join("burst.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("burst.yaml"),
        "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n    missed: all\n",
    )
    .unwrap();
    let mut child = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    while telegram.messages().len() < 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = telegram.messages().len();
    assert!(at_kill < POSTS, "the kill came after the burst: {at_kill}");

    let mut child = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut counts = outbox_counts(dir.path());
    while counts.0 + counts.1 < POSTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        counts = outbox_counts(dir.path());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (sent, unconfirmed, open) = counts;
    assert_eq!((sent + unconfirmed, open), (POSTS, 0), "{counts:?}");
    // Sends waiting for Telegram's pace to the channel were not in flight: only the one
    // request that had left can be in doubt.
    assert!(
        unconfirmed <= crier::connectors::telegram::PACE.in_flight,
        "{unconfirmed} unconfirmed: more than the requests that can be in flight"
    );
    // Nothing went out twice; only the unconfirmed ones may be missing from the channel.
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for message in telegram.messages() {
        *texts.entry(message.text.unwrap_or_default()).or_default() += 1;
    }
    assert!(texts.values().all(|n| *n == 1), "posted twice: {texts:?}");
    assert!(texts.len() >= sent && texts.len() <= POSTS);
}

/// A folder whose `posts` calendar posts fall due together a few seconds from now on one
/// channel of a fake Telegram.
fn telegram_burst(posts: usize) -> (crate::support::fake_telegram::FakeTelegram, TempDir) {
    use crate::support::fake_telegram::{CHANNEL, FakeTelegram};
    const TOKEN: &str = "123456:AAF-test_token-9f8e7d";
    let telegram = FakeTelegram::start(TOKEN);
    let dir = TempDir::new().unwrap();
    let token_file = dir.path().join("telegram.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  tg: {{ network: telegram, token: \"file:{}\", chat: '{CHANNEL}', server: '{}' }}\n",
            token_file.display(),
            telegram.url()
        ),
    )
    .unwrap();
    // Later than a start on a loaded machine takes: a one-off already past at start is
    // recorded missed, not sent.
    let at = (Utc::now() + chrono::TimeDelta::seconds(5)).format("%Y-%m-%d %H:%M:%S");
    let mut csv = String::from("at,to,text\n");
    for n in 0..posts {
        csv.push_str(&format!("{at},tg,post {n}\n"));
    }
    std::fs::write(dir.path().join("burst.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("burst.yaml"),
        "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n    missed: all\n",
    )
    .unwrap();
    (telegram, dir)
}

/// A burst to one Telegram channel goes out at Telegram's pace for a bot, 20 a minute,
/// instead of meeting `429`s: the fake counts the messages in every minute.
#[test]
fn a_burst_to_a_telegram_channel_keeps_to_twenty_a_minute() {
    const POSTS: usize = 23;
    let (telegram, dir) = telegram_burst(POSTS);
    let child = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(150);
    while telegram.messages().len() < POSTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    stop(child);
    let arrivals = telegram.arrivals();
    assert_eq!(arrivals.len(), POSTS, "every post went out");
    for (index, first) in arrivals.iter().enumerate() {
        let within = arrivals[index..]
            .iter()
            // A little under a minute: a request's time on the way may differ by a second.
            .take_while(|later| **later < *first + Duration::from_secs(55))
            .count();
        assert!(within <= 20, "{within} messages within 55 s");
    }
}

/// A stop in the middle of a burst that waits for Telegram's pace is not held up by the
/// sends still waiting: they were never in flight, so none is in doubt and none is lost.
#[test]
fn a_stop_does_not_wait_for_sends_waiting_for_their_pace() {
    const POSTS: usize = 25;
    let (telegram, dir) = telegram_burst(POSTS);
    let mut child = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while telegram.messages().len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(telegram.messages().len(), 20, "the first minute's messages");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    // The sends in flight get 10 s; these were waiting, not in flight.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut exited = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        exited,
        "crier waited for sends that were only waiting for their pace"
    );
    let (sent, unconfirmed, open) = outbox_counts(dir.path());
    assert_eq!((sent, unconfirmed, open), (20, 0, POSTS - 20));
}

/// One account's receiver hangs: another account's post, due a moment later, goes out
/// while that request is still hanging.
#[test]
fn a_hanging_receiver_delays_no_other_account() {
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, ViewStore};
    let stuck = FakeNetwork::start();
    stuck.push_fault(Fault::Slow(Duration::from_secs(60)));
    let free = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\nhttp: {{ timeout: 90s, connect_timeout: 1s }}\naccounts:\n  stuck: {{ network: webhook, url: \"{}\" }}\n  free: {{ network: webhook, url: \"{}\" }}\n",
            stuck.url(),
            free.url()
        ),
    )
    .unwrap();
    let first = Utc::now() + chrono::TimeDelta::seconds(2);
    let second = first + chrono::TimeDelta::seconds(1);
    let format = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d %H:%M:%S").to_string();
    std::fs::write(
        dir.path().join("burst.csv"),
        format!(
            "at,to,text\n{},stuck,hangs\n{},free,goes out\n",
            format(first),
            format(second)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("burst.yaml"),
        "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n    missed: all\n",
    )
    .unwrap();
    let mut child = start(dir.path());
    wait_for(&free, 1, Duration::from_secs(20));
    let arrived = free.created_count();
    // Read before anything else can change: the hanging request has not ended.
    let store = SqliteStore::open(&dir.path().join("crier.db")).unwrap();
    let states: Vec<(String, OutboxState)> = store
        .history(&HistoryFilter::default())
        .unwrap()
        .iter()
        .flat_map(|run| run.outbox.iter().map(|o| (o.account.clone(), o.state)))
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(arrived, 1, "the free account's post did not go out");
    assert_eq!(stuck.request_count(), 1);
    assert!(
        states.contains(&("stuck".to_string(), OutboxState::Sending)),
        "{states:?}"
    );
}

/// The store refuses every write for a while (another process holds its write lock past
/// the busy timeout): the service logs it, waits and tries again, and the post still goes
/// out once the store answers.
#[test]
fn the_service_outlives_a_store_that_fails_for_a_while() {
    let network = FakeNetwork::start();
    let dir = burst(&network, 1, "5s");
    let mut child = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.path().join("crier.db").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let blocker = rusqlite::Connection::open(dir.path().join("crier.db")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // Longer than the store's busy timeout: the service's writes fail meanwhile.
    std::thread::sleep(Duration::from_secs(8));
    let alive_while_failing = child.try_wait().unwrap().is_none();
    blocker.execute_batch("COMMIT").unwrap();
    wait_for(&network, 1, Duration::from_secs(30));
    let alive = child.try_wait().unwrap().is_none();
    stop(child);
    assert!(
        alive_while_failing && alive,
        "the service exited on a store error"
    );
    assert_exactly_once(&network, 1);
}

/// The store refuses every write in the middle of a burst, while requests are in flight
/// and results and marks are being committed in groups: a group that cannot be committed
/// lets none of its requests leave, and its results are taken back in doubt and resent
/// with the same key. Every post still exists exactly once, and every send ends `sent`.
#[test]
fn a_burst_survives_group_commits_that_fail() {
    const POSTS: usize = 300;
    let network = FakeNetwork::start();
    // Failures and retries stretch the burst over seconds, so the store fails inside it.
    network.set_random_faults(0.2, vec![Fault::ServerError, Fault::AcceptThenDrop], 11);
    let dir = burst(&network, POSTS, "2s");
    let mut child = start(dir.path());
    wait_for(&network, 40, Duration::from_secs(30));
    let blocker = rusqlite::Connection::open(dir.path().join("crier.db")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // Longer than the store's busy timeout: the service's commits fail meanwhile.
    std::thread::sleep(Duration::from_secs(7));
    let during = network.created_count();
    blocker.execute_batch("COMMIT").unwrap();
    network.clear_faults();
    // Claims whose results could not be recorded are taken back once their lease passes,
    // then resent: every send ends recorded.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut counts = outbox_counts(dir.path());
    while counts.0 + counts.1 < POSTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        counts = outbox_counts(dir.path());
    }
    let alive = child.try_wait().unwrap().is_none();
    stop(child);
    assert!(alive, "the service exited on a store error");
    assert!(during < POSTS, "the store failed after the burst: {during}");
    assert_eq!(counts, (POSTS, 0, 0));
    assert_exactly_once(&network, POSTS);
}

/// A network that answers "429, Retry-After: 3" for longer than the retry budget lasts:
/// the post waits each time as asked, history says until when, and it goes out in the end.
#[tokio::test]
async fn a_rate_limit_is_a_wait_not_a_failure() {
    use crier::connectors::Connectors;
    use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, Store};
    use std::sync::Arc;

    let network = FakeNetwork::start();
    let policy = RetryPolicy::default();
    // Ten waits of three seconds: more answers than the retry budget has attempts.
    for _ in 0..policy.max_attempts + 2 {
        network.push_fault(Fault::RateLimited {
            retry_after: "3".into(),
        });
    }
    let config = format!(
        "timezone: UTC\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
        network.url()
    );
    let campaign = "kind: campaign\nname: news\nposts:\n  - id: hello\n    at: \"2026-12-01 10:00\"\n    to: hook\n    text: Hello\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(&config, &[("news.yaml", campaign)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 59, 0).unwrap();
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let client = crier::connectors::http::client(&plan.http).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client).unwrap();
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), policy);
    dispatcher.set_plan(plan.clone());
    let mut now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    engine.fire_due(now).unwrap();
    let send = |store: &Arc<dyn Store>| {
        store.history(&HistoryFilter::default()).unwrap()[0].outbox[0].clone()
    };
    let mut notes = Vec::new();
    for _ in 0..policy.max_attempts + 3 {
        dispatcher.dispatch_due(|| now, None).await.unwrap();
        let row = send(&store);
        if row.state == OutboxState::Sent {
            break;
        }
        assert_eq!(row.state, OutboxState::Pending, "{row:?}");
        notes.push(row.note.clone().unwrap_or_default());
        now += chrono::TimeDelta::seconds(3);
    }
    assert_eq!(send(&store).state, OutboxState::Sent, "{notes:?}");
    assert_eq!(notes.len(), policy.max_attempts as usize + 2);
    assert!(
        notes[0].starts_with("rate limited by the network until 10:00:03"),
        "{}",
        notes[0]
    );
    assert_eq!(network.created_count(), 1);
}

/// A post with `max_late: 10s` waits for the network's "429, Retry-After: 3" only as long
/// as its `max_late`, then fails saying so.
#[tokio::test]
async fn a_rate_limit_wait_ends_at_the_posts_max_late() {
    use crier::connectors::Connectors;
    use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, Store};
    use std::sync::Arc;

    let network = FakeNetwork::start();
    for _ in 0..20 {
        network.push_fault(Fault::RateLimited {
            retry_after: "3".into(),
        });
    }
    let config = format!(
        "timezone: UTC\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
        network.url()
    );
    let campaign = "kind: campaign\nname: news\nposts:\n  - id: hello\n    at: \"2026-12-01 10:00\"\n    to: hook\n    text: Hello\n    max_late: 10s\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(&config, &[("news.yaml", campaign)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 59, 0).unwrap();
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let client = crier::connectors::http::client(&plan.http).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client).unwrap();
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    let mut now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    engine.fire_due(now).unwrap();
    let send = |store: &Arc<dyn Store>| {
        store.history(&HistoryFilter::default()).unwrap()[0].outbox[0].clone()
    };
    let mut waits = 0;
    for _ in 0..20 {
        dispatcher.dispatch_due(|| now, None).await.unwrap();
        if send(&store).state != OutboxState::Pending {
            break;
        }
        waits += 1;
        now += chrono::TimeDelta::seconds(3);
    }
    let row = send(&store);
    assert_eq!(row.state, OutboxState::Failed, "{row:?}");
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e
                .starts_with("the network kept asking to wait for more than 10s (its `max_late`)")),
        "{row:?}"
    );
    // 10:00:00, :03 and :06 waited; the answer at :09 asked past 10:00:10.
    assert_eq!(waits, 3);
    assert_eq!(network.created_count(), 0);
}

/// Five kills during a burst to a slow receiver: only the requests in flight at each kill
/// are repeated (with their keys, which the receiver deduplicates), never the whole burst.
#[test]
fn kills_repeat_only_the_requests_in_flight() {
    const POSTS: usize = 200;
    const KILLS: usize = 5;
    let network = FakeNetwork::start();
    for _ in 0..2 * POSTS {
        network.push_fault(Fault::Slow(Duration::from_millis(100)));
    }
    let dir = burst(&network, POSTS, "5s");
    for _ in 0..KILLS {
        let mut child = start(dir.path());
        let before = network.request_count();
        let deadline = Instant::now() + Duration::from_secs(30);
        while network.request_count() < before + 8 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let child = start(dir.path());
    wait_for(&network, POSTS, Duration::from_secs(90));
    stop(child);
    assert_exactly_once(&network, POSTS);
    let repeated = network.request_count() - POSTS;
    assert!(
        repeated
            <= KILLS * crier::engine::dispatch::in_flight_limit(crier::network::Network::Webhook),
        "{repeated} requests repeated over {KILLS} kills"
    );
}

/// `crier run` on `dir` (with `extra` arguments) logging at debug level into a file in
/// `log_dir`; the child and the log's path.
fn run_with_debug_log(
    dir: &std::path::Path,
    extra: &[&str],
    log_dir: &TempDir,
) -> (std::process::Child, std::path::PathBuf) {
    let log = log_dir.path().join("crier.log");
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap()])
        .args(extra)
        .env("CRIER_LOG", "crier=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

/// The log says `given_back` exactly once, with the resident memory read from /proc
/// before and after.
fn assert_memory_given_back_once(log: &std::path::Path, given_back: &str) {
    let text = std::fs::read_to_string(log).unwrap();
    let line = text.lines().find(|l| l.contains(given_back)).unwrap();
    assert!(
        line.contains("before_mb=") && line.contains("after_mb=") && !line.contains("NaN"),
        "{line}"
    );
    assert_eq!(text.matches(given_back).count(), 1, "{text}");
}

/// Once the playbooks are loaded, the service gives back the memory loading freed (the
/// files' trees, a calendar's rows), so an idle service does not keep the start's peak.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_loading_freed_is_given_back_once_the_service_runs() {
    let network = FakeNetwork::start();
    let dir = burst(&network, 2_000, "10s");
    let log_dir = TempDir::new().unwrap();
    let (child, log) = run_with_debug_log(dir.path(), &[], &log_dir);
    let given_back = "memory given back to the system after loading the playbooks";
    wait_for_log(&log, given_back, 1, Duration::from_secs(60));
    stop(child);
    assert_memory_given_back_once(&log, given_back);
}

/// Once a burst is over and nothing is due, the service gives the memory it freed back to
/// the system (glibc keeps it otherwise), and says so at debug level.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_is_given_back_once_a_burst_is_over() {
    const POSTS: usize = 40;
    let network = FakeNetwork::start();
    let dir = burst(&network, POSTS, "10s");
    let log_dir = TempDir::new().unwrap();
    let (child, log) = run_with_debug_log(dir.path(), &["--listen", "127.0.0.1:0"], &log_dir);
    wait_for(&network, POSTS, Duration::from_secs(60));
    let given_back = "memory given back to the system after a burst";
    wait_for_log(&log, given_back, 1, Duration::from_secs(30));
    // A few idle seconds more: nothing was sent in them, so nothing more is given back
    // (once per burst, not once per idle second).
    std::thread::sleep(Duration::from_millis(2500));
    stop(child);
    assert_exactly_once(&network, POSTS);
    assert_memory_given_back_once(&log, given_back);
}
