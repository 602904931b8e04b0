//! What a hostile or careless playbook folder cannot do: texts that would render forever or
//! without end stop at their budget in `plan`, `rehearse` and `run` (and `run` still stops on
//! SIGTERM and sends everything else); folders with link cycles, byte-order marks, bad bytes
//! and unreadable corners are reported, never walked forever.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use tempfile::TempDir;

use crate::support::fake_network::FakeNetwork;

/// A text whose loops run ten billion times: the sizes come from data, so only the
/// rendering budget can stop it.
const ENDLESS_TEXT: &str = "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}";
/// A text that grows by 11 kB per turn.
const GROWING_TEXT: &str = "{% for i in range(n) %}{{ \"many words \" * 1000 }}{% endfor %}";
/// A text whose `join` makes half a megabyte per turn.
const JOINING_TEXT: &str = "{% for i in range(n) %}{{ range(n) | join(\",\") }}{% endfor %}";
/// A text that doubles a string every turn: a few steps each, so only the size budget can
/// stop it before memory runs out.
const DOUBLING_TEXT: &str = "{% set ns = namespace(s=\"ab\") %}{% for i in range(n) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
const OVER_STEPS: &str = "the text takes more than 100000 steps to render (the limit for one text)";
const OVER_SIZE: &str =
    "the text grows larger than 256 KiB while rendering (the limit for one text)";

/// Waits for `child` at most `limit`; kills it and returns `None` if it is still running.
fn wait_bounded(mut child: Child, limit: Duration) -> Option<Output> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn crier_bounded(args: &[&str]) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("crier {args:?} did not finish within 60 s"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn campaign(name: &str, at: &str, text: &str) -> String {
    format!(
        "kind: campaign\nname: {name}\nvars: {{ n: 100000 }}\nposts:\n  - id: only\n    at: \"{at}\"\n    to: hook\n    missed: all\n    text: '{text}'\n"
    )
}

#[test]
fn plan_and_rehearse_show_texts_over_budget_and_go_on() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        "timezone: UTC\naccounts:\n  hook: { network: console }\n",
    );
    let at = "2026-12-01 10:00";
    write(
        dir.path(),
        "endless.yaml",
        &campaign("endless", at, ENDLESS_TEXT),
    );
    write(
        dir.path(),
        "growing.yaml",
        &campaign("growing", at, GROWING_TEXT),
    );
    write(
        dir.path(),
        "joining.yaml",
        &campaign("joining", at, JOINING_TEXT),
    );
    write(
        dir.path(),
        "doubling.yaml",
        &campaign("doubling", at, DOUBLING_TEXT),
    );
    write(
        dir.path(),
        "fine.yaml",
        &campaign("fine", at, "all is well"),
    );
    let path = dir.path().to_str().unwrap();
    let window = ["--from", "2026-12-01", "--until", "2026-12-02"];
    let plan = crier_bounded(&[&["plan", path, "--format", "json"][..], &window].concat());
    assert!(plan.contains(OVER_STEPS), "{plan}");
    assert!(plan.contains(OVER_SIZE), "{plan}");
    assert!(
        plan.lines()
            .any(|line| line.contains("\"playbook\":\"doubling\"") && line.contains(OVER_SIZE)),
        "{plan}"
    );
    assert!(plan.contains("\"playbook\":\"joining\""), "{plan}");
    assert!(plan.contains("all is well"), "{plan}");
    let rehearsal = crier_bounded(&[&["rehearse", path][..], &window].concat());
    assert!(rehearsal.contains(OVER_STEPS), "{rehearsal}");
    assert!(rehearsal.contains(OVER_SIZE), "{rehearsal}");
    assert!(rehearsal.contains("all is well"), "{rehearsal}");
}

/// Under `crier run`, a text that would render forever fails its own post with the reason;
/// the other playbook's post goes out, and SIGTERM stops the service promptly.
#[test]
fn run_fails_a_text_over_budget_sends_the_rest_and_stops_on_sigterm() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
            network.url()
        ),
    );
    let at = (Utc::now() + TimeDelta::seconds(3))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    write(
        dir.path(),
        "endless.yaml",
        &campaign("endless", &at, ENDLESS_TEXT),
    );
    write(
        dir.path(),
        "growing.yaml",
        &campaign("growing", &at, GROWING_TEXT),
    );
    write(
        dir.path(),
        "joining.yaml",
        &campaign("joining", &at, JOINING_TEXT),
    );
    write(
        dir.path(),
        "doubling.yaml",
        &campaign("doubling", &at, DOUBLING_TEXT),
    );
    write(
        dir.path(),
        "fine.yaml",
        &campaign("fine", &at, "all is well"),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.path().to_str().unwrap()])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while network.created_count() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = network.created_count();
    let path = dir.path().to_str().unwrap();
    let every_run_recorded = |history: &str| {
        ["endless", "growing", "joining", "doubling", "fine"]
            .iter()
            .all(|playbook| history.contains(&format!("{playbook}/only")))
    };
    let mut history = crier_bounded(&["history", path]);
    while !every_run_recorded(&history) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        history = crier_bounded(&["history", path]);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = wait_bounded(child, Duration::from_secs(10));
    assert!(
        exited.is_some(),
        "crier run did not exit within 10 s of SIGTERM"
    );
    assert_eq!(sent, 1, "the other playbook's post did not go out");
    let line = |playbook: &str| {
        history
            .lines()
            .find(|line| line.contains(&format!("{playbook}/only")))
            .unwrap_or_else(|| panic!("no run of `{playbook}`:\n{history}"))
            .to_owned()
    };
    assert!(line("endless").contains("failed"), "{history}");
    assert!(line("endless").contains(OVER_STEPS), "{history}");
    assert!(line("growing").contains(OVER_SIZE), "{history}");
    assert!(line("joining").contains(OVER_STEPS), "{history}");
    assert!(line("doubling").contains(OVER_SIZE), "{history}");
    assert!(!line("fine").contains("failed"), "{history}");
}

/// Within the budget but slow: each turn scans a long string from the campaign's vars a few
/// times, so one render takes tens of seconds with the vars of the first start, and no time
/// with those of the second.
const SLOW_TEXT: &str = "{% for i in range(n) %}{% if big is lower and big is lower and big is lower and big is lower %}{% endif %}{% endfor %}slow done";

fn slow_campaign(at: &str, n: usize, big: &str) -> String {
    format!(
        "kind: campaign\nname: slow\nvars: {{ n: {n}, big: \"{big}\" }}\nposts:\n  - id: only\n    at: \"{at}\"\n    to: hook\n    missed: all\n    text: '{SLOW_TEXT}'\n"
    )
}

/// SIGTERM in the middle of a render that takes tens of seconds: `crier run` stops at once, says so,
/// and records nothing of the fires it was building; after a restart each post goes out
/// once.
#[test]
fn sigterm_during_a_slow_render_stops_at_once_and_the_post_fires_after_restart() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
            network.url()
        ),
    );
    let fire_at = Utc::now() + TimeDelta::seconds(3);
    let at = fire_at.format("%Y-%m-%d %H:%M:%S").to_string();
    // 20 000 scans of 900 kB: tens of seconds of work, within the step budget.
    write(
        dir.path(),
        "slow.yaml",
        &slow_campaign(&at, 5000, &"x".repeat(900 * 1024)),
    );
    write(
        dir.path(),
        "fine.yaml",
        &campaign("fine", &at, "all is well"),
    );
    let log_dir = TempDir::new().unwrap();
    let log = log_dir.path().join("crier.log");
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.path().to_str().unwrap()])
        .env("CRIER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log().contains("crier is running") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Two seconds into the render of the fires.
    while Utc::now() < fire_at + TimeDelta::seconds(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        network.created_count(),
        0,
        "the fires were committed already"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A liveness bound, far below the render's length.
    let exited = wait_bounded(child, Duration::from_secs(5));
    let text = read_log();
    let exited = exited.unwrap_or_else(|| panic!("not stopped within 5 s of SIGTERM:\n{text}"));
    assert!(exited.status.success(), "{:?}\n{text}", exited.status);
    assert!(
        text.lines()
            .any(|line| line.trim_end().ends_with("service: stopped")),
        "{text}"
    );
    assert!(!text.contains("still in a step"), "{text}");
    assert_eq!(network.created_count(), 0, "{text}");
    let path = dir.path().to_str().unwrap();
    let history = crier_bounded(&["history", path]);
    assert!(
        !history.contains("slow/only") && !history.contains("fine/only"),
        "runs were recorded:\n{history}"
    );

    // The same post, with vars that make its render quick: it fires after the restart.
    write(dir.path(), "slow.yaml", &slow_campaign(&at, 3, "abc"));
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", path])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while network.created_count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(
        wait_bounded(child, Duration::from_secs(30)).is_some(),
        "crier run did not exit within 30 s of SIGTERM"
    );
    let mut texts: Vec<String> = network
        .posts_by_key()
        .values()
        .map(|post| post.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    assert_eq!(texts, ["all is well", "slow done"]);
    let history = crier_bounded(&["history", path]);
    for item in ["slow/only", "fine/only"] {
        assert_eq!(history.matches(item).count(), 1, "{history}");
    }
}
