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
pub(crate) const SLOW_TEXT: &str = "{% for i in range(n) %}{% if big is lower and big is lower and big is lower and big is lower %}{% endif %}{% endfor %}slow done";

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

/// A text of constants only (a rule's `utm:` value sees no vars) that is slow within the
/// budget: 240 kB of Cyrillic scanned 20 000 times.
const SLOW_CONSTANT_TEXT: &str = "{% set big = \"ж\" * 120000 %}{% for i in range(5000) %}{% if big is lower and big is lower and big is lower and big is lower %}{% endif %}{% endfor %}slow";

/// The vars that make `SLOW_TEXT` take tens of seconds, and those that make it quick.
pub(crate) fn slow_vars() -> String {
    format!("{{ n: 5000, big: \"{}\" }}", "x".repeat(900 * 1024))
}
pub(crate) const QUICK_VARS: &str = "{ n: 3, big: \"abc\" }";

/// `crier run` on `dir` (its `crier.yaml` and playbooks written), SIGTERM two seconds after
/// `render_at`, while a slow text renders: it stops within 5 s, having sent nothing. Then
/// `quick` files replace some playbooks, and after a restart `crier run` sends until
/// `sent(stdout so far)` says it has (or a minute passes), and stops again. Returns what
/// both runs printed on stdout (where `console` accounts post).
fn stop_during_a_slow_render_then_restart(
    network: &FakeNetwork,
    dir: &Path,
    render_at: chrono::DateTime<Utc>,
    quick: &[(&str, String)],
    sent: impl Fn(&str) -> bool,
) -> String {
    let log_dir = TempDir::new().unwrap();
    let log = log_dir.path().join("crier.log");
    let printed = log_dir.path().join("stdout");
    let read_printed = || std::fs::read_to_string(&printed).unwrap_or_default();
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap()])
        .env("CRIER_LOG", "info")
        .stdout(std::fs::File::create(&printed).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log().contains("crier is running") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let render_at = render_at.max(Utc::now());
    while Utc::now() < render_at + TimeDelta::seconds(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        network.created_count(),
        0,
        "sent before the stop:\n{}",
        read_log()
    );
    assert_eq!(
        read_printed(),
        "",
        "posted before the stop:\n{}",
        read_log()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = wait_bounded(child, Duration::from_secs(5));
    let text = read_log();
    let exited = exited.unwrap_or_else(|| panic!("not stopped within 5 s of SIGTERM:\n{text}"));
    assert!(exited.status.success(), "{:?}\n{text}", exited.status);
    // The engine's step ended with the stop: it was not left behind still rendering.
    assert!(!text.contains("still in a step"), "{text}");
    assert!(
        text.lines()
            .any(|line| line.trim_end().ends_with("service: stopped")),
        "{text}"
    );
    assert_eq!(network.created_count(), 0, "{text}");
    assert_eq!(read_printed(), "", "{text}");

    for (name, content) in quick {
        write(dir, name, content);
    }
    let child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap()])
        .env("CRIER_LOG", "warn")
        .stdout(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&printed)
                .unwrap(),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sent(&read_printed()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A moment more, for a second copy to show if there were one.
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(
        wait_bounded(child, Duration::from_secs(30)).is_some(),
        "crier run did not exit within 30 s of SIGTERM"
    );
    assert_eq!(network.repeat_count(), 0, "something was sent twice");
    read_printed()
}

fn sent_texts(network: &FakeNetwork) -> Vec<String> {
    let mut texts: Vec<String> = network
        .posts_by_key()
        .values()
        .map(|post| post.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    texts
}

fn webhook_config(network: &FakeNetwork, people: &str) -> String {
    format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n{people}",
        network.url()
    )
}

/// A rule's `utm:` value that renders slowly: SIGTERM during it stops `crier run` at once,
/// and the post goes out once after the restart, tagged by the rule as it is then.
#[test]
fn sigterm_during_a_slow_rule_text_stops_at_once_and_the_post_fires_after_restart() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(dir.path(), "crier.yaml", &webhook_config(&network, ""));
    let rules = |source: &str| {
        format!(
            "kind: rules\nname: tags\napplies_to: all\ncontent:\n  utm: {{ source: '{source}' }}\n"
        )
    };
    write(dir.path(), "rules.yaml", &rules(SLOW_CONSTANT_TEXT));
    let fire_at = Utc::now() + TimeDelta::seconds(3);
    let at = fire_at.format("%Y-%m-%d %H:%M:%S").to_string();
    write(
        dir.path(),
        "links.yaml",
        &campaign("links", &at, "read https://example.com/a"),
    );
    stop_during_a_slow_render_then_restart(
        &network,
        dir.path(),
        fire_at,
        &[("rules.yaml", rules("quick"))],
        |_| network.created_count() >= 1,
    );
    assert_eq!(
        sent_texts(&network),
        ["read https://example.com/a?utm_source=quick"]
    );
    let history = crier_bounded(&["history", dir.path().to_str().unwrap()]);
    assert_eq!(history.matches("links/only").count(), 1, "{history}");
}

/// A contest's announcement that renders slowly: SIGTERM during it stops `crier run` at
/// once, and the announcement goes out once after the restart.
#[test]
fn sigterm_during_a_slow_contest_text_stops_at_once_and_it_is_announced_after_restart() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &webhook_config(
            &network,
            "  desk: { network: console }\npeople:\n  owner: { notify: hook }\n",
        ),
    );
    let announce_at = Utc::now() + TimeDelta::seconds(3);
    let day = |days: i64| {
        (Utc::now() + TimeDelta::days(days))
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let contest = |vars: &str| {
        format!(
            "kind: contest\nname: giveaway\naccount: desk\nowner: owner\nvars: {vars}\nannounce:\n  at: \"{}\"\n  text: '{SLOW_TEXT}'\nentries:\n  from: mentions\n  closes: \"{}\"\ndraw:\n  at: \"{}\"\n  winners: 1\n  reserves: 0\n",
            announce_at.format("%Y-%m-%d %H:%M:%S"),
            day(2),
            day(3)
        )
    };
    write(dir.path(), "giveaway.yaml", &contest(&slow_vars()));
    let printed = stop_during_a_slow_render_then_restart(
        &network,
        dir.path(),
        announce_at,
        &[("giveaway.yaml", contest(QUICK_VARS))],
        |printed| printed.contains("slow done"),
    );
    assert_eq!(printed.matches("slow done").count(), 1, "{printed}");
    let history = crier_bounded(&["history", dir.path().to_str().unwrap()]);
    assert_eq!(history.matches("giveaway/announce").count(), 1, "{history}");
}

/// An approval request whose notice renders the post's slow text: SIGTERM during it stops
/// `crier run` at once, and the approver is asked once after the restart.
#[test]
fn sigterm_during_a_slow_approval_notice_stops_at_once_and_it_is_sent_after_restart() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &webhook_config(&network, "people:\n  ann: { notify: hook }\n"),
    );
    let post_at = (Utc::now() + TimeDelta::days(1))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let campaign = |vars: &str| {
        format!(
            "kind: campaign\nname: release\nvars: {vars}\nposts:\n  - id: only\n    at: \"{post_at}\"\n    to: hook\n    text: '{SLOW_TEXT}'\n    approve:\n      by: ann\n      before: 1h\n      ask: 2d\n"
        )
    };
    write(dir.path(), "release.yaml", &campaign(&slow_vars()));
    // The request is opened, and its notice rendered, as soon as the service runs.
    stop_during_a_slow_render_then_restart(
        &network,
        dir.path(),
        Utc::now(),
        &[("release.yaml", campaign(QUICK_VARS))],
        |_| network.created_count() >= 1,
    );
    let texts = sent_texts(&network);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("Approval needed"), "{texts:?}");
    assert!(texts[0].contains("slow done"), "{texts:?}");
    let approvals = crier_bounded(&["approvals", "-C", dir.path().to_str().unwrap()]);
    assert_eq!(approvals.matches("release/only").count(), 1, "{approvals}");
}

/// A crisis plan's public response that renders slowly: SIGTERM during it stops `crier run`
/// at once, and the response goes out once after the restart.
#[test]
fn sigterm_during_a_slow_crisis_text_stops_at_once_and_the_response_goes_out_after_restart() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &webhook_config(&network, "  desk: { network: console }\n"),
    );
    let crisis = |vars: &str| {
        format!(
            "kind: crisis\nname: outage\nwatch:\n  accounts: [desk]\n  keywords: [acme]\n  every: 1m\nvars: {vars}\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 0'\n    do:\n      - post:\n          to: [hook]\n          text: '{SLOW_TEXT}'\n"
        )
    };
    write(dir.path(), "outage.yaml", &crisis(&slow_vars()));
    // The level holds at the first evaluation, as soon as the service runs.
    stop_during_a_slow_render_then_restart(
        &network,
        dir.path(),
        Utc::now(),
        &[("outage.yaml", crisis(QUICK_VARS))],
        |_| network.created_count() >= 1,
    );
    assert_eq!(sent_texts(&network), ["slow done"]);
}

/// A loop whose size is known at load and is over the budget is an error of `crier validate`
/// in every text crier renders: a post's, a rule's `utm:` value, a contest's, a crisis step's.
#[test]
fn validate_finds_constant_loops_over_budget_in_every_kind_of_text() {
    const OVER: &str =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        "timezone: UTC\naccounts:\n  desk: { network: console }\npeople:\n  ann: { notify: desk }\n",
    );
    write(
        dir.path(),
        "rules.yaml",
        &format!(
            "kind: rules\nname: tags\napplies_to: all\ncontent:\n  utm: {{ source: '{OVER}' }}\n"
        ),
    );
    write(
        dir.path(),
        "sale.yaml",
        &format!(
            "kind: campaign\nname: sale\nposts:\n  - id: a\n    at: 2027-01-01 10:00\n    to: desk\n    text: '{OVER}'\n"
        ),
    );
    write(
        dir.path(),
        "giveaway.yaml",
        &format!(
            "kind: contest\nname: giveaway\naccount: desk\nannounce:\n  at: 2027-01-01 10:00\n  text: '{OVER}'\nentries:\n  from: mentions\n  closes: 2027-01-03 10:00\ndraw:\n  at: 2027-01-04 10:00\n  winners: 1\nwinners:\n  reply: '{OVER}'\n"
        ),
    );
    write(
        dir.path(),
        "outage.yaml",
        &format!(
            "kind: crisis\nname: outage\nwatch: {{ accounts: [desk], keywords: [acme] }}\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: ann\n        text: '{OVER}'\n      - post: {{ to: [desk], text: '{OVER}' }}\n"
        ),
    );
    let out = crier_bounded(&["validate", dir.path().to_str().unwrap()]);
    for place in [
        "rules.yaml:5:",
        "sale.yaml:7:",
        "giveaway.yaml:6:",
        "giveaway.yaml:14:",
        "outage.yaml:9:",
        "outage.yaml:10:",
    ] {
        assert!(out.contains(place), "no error at {place}:\n{out}");
    }
    assert_eq!(
        out.matches("more than the 100000 a text may take").count(),
        6,
        "{out}"
    );
}

/// SIGTERM while a hook event's post text is rendering: `crier run` stops at once, the event
/// is answered as not stored (or its connection closed), nothing is sent; the sender's
/// retry after a restart fires the post once.
#[test]
fn sigterm_during_a_slow_hook_text_stops_at_once_and_the_retried_event_fires_once() {
    const SECRET: &str = "slow-hook-key";
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("hook.key");
    std::fs::write(&key, SECRET).unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\n",
            network.url()
        ),
    );
    let hooked = |vars: &str| {
        format!(
            "kind: campaign\nname: slow\nvars: {vars}\nhooks:\n  order: {{ secret: \"file:{}\" }}\nposts:\n  - id: thanks\n    on: {{ hook: order }}\n    to: hook\n    text: '{SLOW_TEXT}'\n",
            key.display()
        )
    };
    write(dir.path(), "slow.yaml", &hooked(&slow_vars()));
    let start = || crate::support::service::start_serving(dir.path());
    // One event, sent the same way each time (its idempotency key tells a retry).
    let send = |base: String| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let body = r#"{"order":"A-1"}"#;
                let timestamp = Utc::now().timestamp().to_string();
                let signature = crier::connectors::webhook::sign(
                    SECRET.as_bytes(),
                    &timestamp,
                    body.as_bytes(),
                );
                let answer = reqwest::Client::new()
                    .post(format!("{base}/hooks/order"))
                    .timeout(Duration::from_secs(90))
                    .header("x-crier-timestamp", &timestamp)
                    .header("x-crier-signature", signature)
                    .header("idempotency-key", "order-A-1")
                    .body(body)
                    .send()
                    .await;
                match answer {
                    Ok(answer) => Some(answer.status().as_u16()),
                    Err(_) => None,
                }
            })
        })
    };

    let (child, base) = start();
    let answer = send(base);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !answer.is_finished(),
        "the event was answered before its text rendered"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A liveness bound, far below the render's length.
    let exited = wait_bounded(child, Duration::from_secs(5));
    let exited = exited.expect("not stopped within 5 s of SIGTERM");
    assert!(exited.status.success(), "{:?}", exited.status);
    let status = answer.join().unwrap();
    assert!(
        status.is_none_or(|status| status == 503),
        "the event was answered {status:?}, not as not stored"
    );
    assert_eq!(network.created_count(), 0);

    // The sender tries again once crier is back, its texts quick to render now.
    write(dir.path(), "slow.yaml", &hooked(QUICK_VARS));
    let (mut child, base) = start();
    let status = send(base.clone()).join().unwrap();
    assert_eq!(status, Some(202));
    let deadline = Instant::now() + Duration::from_secs(60);
    while network.created_count() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // The same event once more: a replay, not a second post.
    assert_eq!(send(base).join().unwrap(), Some(202));
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(sent_texts(&network), ["slow done"]);
    assert_eq!(network.created_count(), 1, "sent once");
}

/// SIGTERM while the API renders the plan of a slow text: the render holds none of the
/// server's async workers (`/healthz` answers meanwhile), and `crier run` stops at once,
/// answering the plan request 503 (or closing it) instead of waiting for the render.
#[test]
fn sigterm_while_the_api_renders_a_slow_plan_stops_at_once() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\npeople:\n  viewer: {{ role: viewer, notify: hook }}\n",
            network.url()
        ),
    );
    let tomorrow = (Utc::now() + TimeDelta::days(1))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    write(
        dir.path(),
        "slow.yaml",
        &format!(
            "kind: campaign\nname: slow\nvars: {}\nposts:\n  - id: only\n    at: \"{tomorrow}\"\n    to: hook\n    text: '{SLOW_TEXT}'\n",
            slow_vars()
        ),
    );
    let path = dir.path().to_str().unwrap();
    let token = crier_bounded(&["token", "new", "viewer", "--path", path]);
    // The token is the first line (stdout); what follows is said on stderr.
    let token = token.lines().next().unwrap_or_default().trim().to_owned();
    assert!(!token.is_empty() && !token.contains(' '), "{token}");

    let (child, base) = crate::support::service::start_serving(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    // Two plan requests at once: as many as the server has async workers on two cores.
    let plans: Vec<_> = (0..2)
        .map(|_| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            runtime.spawn(async move {
                client
                    .get(format!("{base}/api/v1/plan?days=2"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .ok()
                    .map(|answer| answer.status().as_u16())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        plans.iter().all(|plan| !plan.is_finished()),
        "the plan was answered before its text rendered"
    );
    let health = runtime.block_on(async {
        client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|answer| answer.status().as_u16())
    });
    assert_eq!(
        health.ok(),
        Some(200),
        "the server's workers are held by the render"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A liveness bound, far below the render's length.
    let exited = wait_bounded(child, Duration::from_secs(5));
    let exited = exited.expect("not stopped within 5 s of SIGTERM");
    assert!(exited.status.success(), "{:?}", exited.status);
    for plan in plans {
        let status = runtime.block_on(plan).unwrap();
        assert!(
            status.is_none_or(|status| status == 503),
            "the plan was answered {status:?}"
        );
    }
    assert_eq!(network.created_count(), 0);
}

/// `POST /api/v1/trigger {playbook, item}` as the person whose token is `token`, on a
/// runtime of the test's: the answer's status, content type and text, or `None` when the
/// connection ended without one.
fn trigger_over_the_api(
    runtime: &tokio::runtime::Runtime,
    base: &str,
    token: &str,
    playbook: &str,
    item: &str,
) -> tokio::task::JoinHandle<Option<(u16, String, String)>> {
    let url = format!("{base}/api/v1/trigger");
    let (token, body) = (
        token.to_owned(),
        serde_json::json!({ "playbook": playbook, "item": item }),
    );
    runtime.spawn(async move {
        let answer = reqwest::Client::new()
            .post(url)
            .timeout(Duration::from_secs(90))
            .bearer_auth(token)
            .json(&body)
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
}

/// SIGTERM while `POST /api/v1/trigger` renders a slow text: the render holds none of the
/// server's async workers (`/healthz` answers meanwhile), `crier run` stops at once, each
/// trigger is answered 503 (problem+json: crier is stopping), and no run is stored. Back
/// with a quick text, the same request fires the post, and it is sent once.
#[test]
fn sigterm_while_the_api_triggers_a_slow_post_stops_at_once_and_nothing_is_fired() {
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "crier.yaml",
        &webhook_config(&network, "people:\n  ed: { role: editor, notify: hook }\n"),
    );
    let campaign = |vars: &str| {
        format!(
            "kind: campaign\nname: slow\nvars: {vars}\nposts:\n  - id: only\n    at: \"2030-01-01 10:00\"\n    to: hook\n    text: '{SLOW_TEXT}'\n"
        )
    };
    write(dir.path(), "slow.yaml", &campaign(&slow_vars()));
    let path = dir.path().to_str().unwrap();
    let token = crier_bounded(&["token", "new", "ed", "--path", path]);
    let token = token.lines().next().unwrap_or_default().trim().to_owned();
    assert!(!token.is_empty() && !token.contains(' '), "{token}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let (child, base) = crate::support::service::start_serving(dir.path());
    // Two at once: as many as the server has async workers on two cores.
    let triggers: Vec<_> = (0..2)
        .map(|_| trigger_over_the_api(&runtime, &base, &token, "slow", "only"))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        triggers.iter().all(|trigger| !trigger.is_finished()),
        "a trigger was answered before its text rendered"
    );
    let health = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|answer| answer.status().as_u16())
    });
    assert_eq!(
        health.ok(),
        Some(200),
        "the server's workers are held by the render"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // A liveness bound, far below the render's length.
    let exited = wait_bounded(child, Duration::from_secs(5));
    let exited = exited.expect("not stopped within 5 s of SIGTERM");
    assert!(exited.status.success(), "{:?}", exited.status);
    for trigger in triggers {
        let answer = runtime.block_on(trigger).unwrap();
        let (status, kind, text) = answer.expect("the trigger was answered, not dropped");
        assert_eq!(status, 503, "{text}");
        assert_eq!(kind, "application/problem+json", "{text}");
        assert!(
            text.contains("crier is stopping; ask again once it is back"),
            "{text}"
        );
    }
    assert_eq!(network.created_count(), 0);
    let history = crier_bounded(&["history", path]);
    assert!(
        !history.contains("slow/only"),
        "a run was stored: {history}"
    );

    // Asked again once crier is back, its text quick now: fired and sent once.
    write(dir.path(), "slow.yaml", &campaign(QUICK_VARS));
    let (child, base) = crate::support::service::start_serving(dir.path());
    let answer = runtime
        .block_on(trigger_over_the_api(
            &runtime, &base, &token, "slow", "only",
        ))
        .unwrap();
    let (status, _, text) = answer.expect("the trigger was answered");
    assert_eq!(status, 200, "{text}");
    let triggered: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(triggered["run"]["item"], "only", "{text}");
    crate::support::service::stop(child);
    assert_eq!(sent_texts(&network), ["slow done"]);
    let history = crier_bounded(&["history", path]);
    assert_eq!(history.matches("slow/only").count(), 1, "{history}");
}
