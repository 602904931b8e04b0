//! Posting rules' limits and the kill switch: a burst delayed into the limits' slots (in
//! rehearsal, in the dispatcher and in `crier plan`); pauses holding sends, and resumes
//! releasing them by each item's `missed:` policy and within the limits.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crier::connectors::registry::Connectors;
use crier::engine::rehearse::rehearse;
use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
use crier::playbook::plan::Plan;
use crier::store::{
    HistoryFilter, NewPause, OutboxState, PauseScope, RunState, SqliteStore, Store,
};
use tempfile::TempDir;

const CONFIG: &str =
    "timezone: UTC\naccounts:\n  demo: { network: console }\n  other: { network: console }\n";

fn plan_from(files: &[(&str, &str)]) -> (TempDir, Arc<Plan>) {
    crate::support::playbooks::valid_plan(CONFIG, files)
}

fn utc(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

const LIMITS: &str = "kind: rules\nname: pace\napplies_to: all\nlimits:\n  - { max: 4, per: 1h, each: account }\n  - { min_gap: 10m, each: account }\n";

/// `count` posts of campaign `name` to `to`, all due at `at`.
fn burst(name: &str, count: usize, at: &str, to: &str) -> String {
    let mut yaml = format!("kind: campaign\nname: {name}\nposts:\n");
    for i in 1..=count {
        yaml.push_str(&format!(
            "  - {{ id: p{i:02}, at: \"{at}\", to: {to}, text: \"post {i}\" }}\n"
        ));
    }
    yaml
}

/// The slots of "4 per hour, 10 minutes apart" from 10:00: :00 :10 :20 :30 of each hour.
fn expected_slots(count: usize) -> Vec<DateTime<Utc>> {
    (0..count)
        .map(|i| utc(10 + (i / 4) as u32, 10 * (i % 4) as u32))
        .collect()
}

#[tokio::test]
async fn a_burst_of_20_posts_is_delayed_into_the_right_slots_in_rehearsal() {
    let (_dir, plan) = plan_from(&[
        ("pace.yaml", LIMITS),
        (
            "burst.yaml",
            &burst("burst", 20, "2026-12-01 10:00", "demo"),
        ),
    ]);
    let lines = rehearse(plan, &[], utc(9, 0), utc(20, 0)).await.unwrap();
    let posts: Vec<_> = lines.iter().filter(|l| l.kind == "post").collect();
    assert_eq!(posts.len(), 20, "each post exactly once");
    let mut times: Vec<DateTime<Utc>> = posts.iter().map(|l| l.at.with_timezone(&Utc)).collect();
    times.sort();
    assert_eq!(times, expected_slots(20));
    let mut items: Vec<_> = posts.iter().map(|l| l.item.clone().unwrap()).collect();
    items.sort();
    items.dedup();
    assert_eq!(items.len(), 20);
    // The first goes out on time; every later one names the rule that delayed it.
    let delayed: Vec<_> = posts
        .iter()
        .filter(|l| l.at.with_timezone(&Utc) > utc(10, 0))
        .collect();
    assert_eq!(delayed.len(), 19);
    for line in delayed {
        let reason = line.reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with("delayed by rules `pace` ("), "{reason}");
        assert_eq!(line.rule.as_deref(), Some("pace"));
        let json = serde_json::to_value(line).unwrap();
        assert_eq!(json["rule"], "pace");
    }
}

#[tokio::test]
async fn limits_count_each_account_campaign_or_network_separately() {
    // Per account: two accounts each get their own slots.
    let (_dir, plan) = plan_from(&[
        ("pace.yaml", LIMITS),
        (
            "burst.yaml",
            &burst("burst", 4, "2026-12-01 10:00", "[demo, other]"),
        ),
    ]);
    let lines = rehearse(plan, &[], utc(9, 0), utc(20, 0)).await.unwrap();
    for account in ["demo", "other"] {
        let mut times: Vec<_> = lines
            .iter()
            .filter(|l| l.kind == "post" && l.account.as_deref() == Some(account))
            .map(|l| l.at.with_timezone(&Utc))
            .collect();
        times.sort();
        assert_eq!(times, expected_slots(4), "{account}");
    }
    // Per campaign: two campaigns share nothing; one campaign's accounts share its limit.
    let per_campaign =
        "kind: rules\nname: pace\napplies_to: all\nlimits:\n  - { min_gap: 30m, each: campaign }\n";
    let (_dir, plan) = plan_from(&[
        ("pace.yaml", per_campaign),
        (
            "a.yaml",
            &burst("a", 1, "2026-12-01 10:00", "[demo, other]"),
        ),
        ("b.yaml", &burst("b", 1, "2026-12-01 10:00", "demo")),
    ]);
    let lines = rehearse(plan, &[], utc(9, 0), utc(20, 0)).await.unwrap();
    let at = |playbook: &str, account: &str| {
        lines
            .iter()
            .find(|l| {
                l.kind == "post"
                    && l.playbook.as_deref() == Some(playbook)
                    && l.account.as_deref() == Some(account)
            })
            .map(|l| l.at.with_timezone(&Utc))
            .unwrap()
    };
    assert_eq!(at("a", "demo"), utc(10, 0));
    assert_eq!(at("a", "other"), utc(10, 30));
    assert_eq!(at("b", "demo"), utc(10, 0));
    // Per network: console accounts share one limit.
    let per_network = "kind: rules\nname: pace\napplies_to: all\nlimits:\n  - { max: 1, per: 15m, each: network }\n";
    let (_dir, plan) = plan_from(&[
        ("pace.yaml", per_network),
        (
            "a.yaml",
            &burst("a", 1, "2026-12-01 10:00", "[demo, other]"),
        ),
    ]);
    let lines = rehearse(plan, &[], utc(9, 0), utc(20, 0)).await.unwrap();
    let mut times: Vec<_> = lines
        .iter()
        .filter(|l| l.kind == "post")
        .map(|l| l.at.with_timezone(&Utc))
        .collect();
    times.sort();
    assert_eq!(times, [utc(10, 0), utc(10, 15)]);
}

#[test]
fn plan_lists_posts_a_limit_delays_with_the_rule_named() {
    let (dir, _plan) = plan_from(&[
        ("pace.yaml", LIMITS),
        ("burst.yaml", &burst("burst", 6, "2026-12-01 10:00", "demo")),
    ]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["plan", dir.path().to_str().unwrap(), "--format", "json"])
        .args(["--from", "2026-12-01", "--days", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<&str> = lines.iter().map(|l| l["at"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        [
            "2026-12-01T10:00:00+00:00",
            "2026-12-01T10:10:00+00:00",
            "2026-12-01T10:20:00+00:00",
            "2026-12-01T10:30:00+00:00",
            "2026-12-01T11:00:00+00:00",
            "2026-12-01T11:10:00+00:00",
        ]
    );
    assert!(lines[0].get("rule").is_none());
    assert_eq!(
        lines[4]["rule"],
        "pace: delayed from 2026-12-01 10:00 (at most 4 per 1h per account)"
    );
    assert_eq!(
        lines[1]["rule"],
        "pace: delayed from 2026-12-01 10:00 (at least 10m between posts per account)"
    );
}

// ---- the kill switch ----------------------------------------------------------------------

struct Rig {
    store: Arc<dyn Store>,
    engine: Engine,
    dispatcher: Dispatcher,
    recording: crier::connectors::recording::Recording,
}

fn rig(plan: Arc<Plan>, start: DateTime<Utc>) -> Rig {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan);
    Rig {
        store,
        engine,
        dispatcher,
        recording,
    }
}

impl Rig {
    /// Everything due at `now`: fires, waits, released sends, and the sends themselves.
    async fn step(&mut self, now: DateTime<Utc>) {
        self.engine.fire_due(now).unwrap();
        self.engine.resume_waiting(now).unwrap();
        self.engine.release_held(now).unwrap();
        self.dispatcher.dispatch_due(|| now, None).await.unwrap();
    }

    /// Steps minute by minute through `[from, until]`.
    async fn walk(&mut self, from: DateTime<Utc>, until: DateTime<Utc>) {
        let mut now = from;
        while now <= until {
            self.step(now).await;
            now += TimeDelta::minutes(1);
        }
    }

    fn sent(&self) -> Vec<String> {
        self.recording
            .lock()
            .unwrap()
            .iter()
            .map(|r| format!("{}:{}", r.account, r.post.item))
            .collect()
    }

    fn pause(&self, scope: PauseScope, at: DateTime<Utc>) {
        self.store
            .pause(
                &NewPause {
                    scope,
                    until: None,
                    reason: "storm".into(),
                    by: "olena".into(),
                },
                at.timestamp_millis(),
            )
            .unwrap();
    }
}

fn hourly(missed: &str) -> String {
    format!(
        "kind: campaign\nname: news\nposts:\n  - {{ id: hourly, cron: \"0 * * * *\", to: demo, text: news, missed: {missed} }}\n  - {{ id: other, at: \"2026-12-01 11:00\", to: other, text: elsewhere }}\n"
    )
}

#[tokio::test]
async fn a_pause_holds_sends_and_a_quick_resume_sends_them() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("skip"))]);
    let mut rig = rig(plan, utc(9, 30));
    rig.pause(PauseScope::Account("demo".into()), utc(9, 59));
    rig.step(utc(10, 0)).await;
    assert!(rig.sent().is_empty(), "held");
    let held = rig.store.held_sends().unwrap();
    assert_eq!(held.len(), 1);
    let run = &rig.store.history(&HistoryFilter::default()).unwrap()[0];
    assert_eq!(run.outbox[0].state, OutboxState::Held);
    assert_eq!(
        run.outbox[0].note.as_deref(),
        Some("paused (account `demo`) by olena: storm")
    );
    // Resumed within the grace: it goes out once, even under `missed: skip`.
    rig.store
        .resume(
            &PauseScope::Account("demo".into()),
            "taras",
            utc(10, 0).timestamp_millis(),
        )
        .unwrap();
    rig.step(utc(10, 0) + TimeDelta::seconds(30)).await;
    rig.step(utc(10, 1)).await;
    assert_eq!(rig.sent(), ["demo:hourly"]);
}

#[tokio::test]
async fn a_pause_covers_only_its_scope() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("all"))]);
    let mut rig = rig(plan, utc(9, 30));
    rig.pause(PauseScope::Campaign("elsewhere".into()), utc(9, 30));
    rig.pause(PauseScope::Account("demo".into()), utc(9, 30));
    rig.walk(utc(10, 0), utc(11, 0)).await;
    assert_eq!(rig.sent(), ["other:other"], "only demo is paused");
}

#[tokio::test]
async fn a_long_pause_releases_by_each_items_missed_policy() {
    for (missed, expected) in [
        ("skip", vec![]),
        ("once", vec!["demo:hourly"]),
        ("all", vec!["demo:hourly", "demo:hourly", "demo:hourly"]),
    ] {
        let (_dir, plan) = plan_from(&[("news.yaml", &hourly(missed))]);
        let mut rig = rig(plan, utc(9, 30));
        rig.pause(PauseScope::Campaigns, utc(9, 30));
        rig.walk(utc(10, 0), utc(12, 0)).await;
        assert_eq!(
            rig.store.held_sends().unwrap().len(),
            4,
            "{missed}: 10, 11, 12 and other"
        );
        rig.store
            .resume(
                &PauseScope::Campaigns,
                "taras",
                utc(12, 30).timestamp_millis(),
            )
            .unwrap();
        rig.step(utc(12, 30)).await;
        let mut sent = rig.sent();
        sent.retain(|s| s.starts_with("demo"));
        assert_eq!(sent, expected, "missed: {missed}");
        let runs = rig.store.history(&HistoryFilter::default()).unwrap();
        let skipped = runs
            .iter()
            .filter(|r| r.item == "hourly" && r.state == RunState::Skipped)
            .count();
        assert_eq!(skipped, 3 - expected.len(), "{missed}");
        for run in runs.iter().filter(|r| r.state == RunState::Skipped) {
            assert!(
                run.reason
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("held by a pause past its time"),
                "{:?}",
                run.reason
            );
        }
    }
}

#[tokio::test]
async fn a_resume_follows_the_limits_and_never_bursts() {
    let (_dir, plan) = plan_from(&[
        ("pace.yaml", LIMITS),
        ("burst.yaml", &burst("burst", 8, "2026-12-01 10:00", "demo")),
    ]);
    let mut rig = rig(plan, utc(9, 30));
    rig.pause(PauseScope::All, utc(9, 30));
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.store.held_sends().unwrap().len(), 8);
    rig.store
        .resume(&PauseScope::All, "taras", utc(10, 0).timestamp_millis())
        .unwrap();
    rig.walk(utc(10, 0), utc(12, 0)).await;
    let records = rig.recording.lock().unwrap().len();
    assert_eq!(records, 8, "each once");
    let runs = rig.store.history(&HistoryFilter::default()).unwrap();
    let mut sent_at: Vec<_> = runs
        .iter()
        .flat_map(|r| &r.outbox)
        .map(|o| o.state)
        .collect();
    sent_at.dedup();
    assert_eq!(sent_at, [OutboxState::Sent]);
    let lines = rig.store.timeline().unwrap();
    let mut times: Vec<DateTime<Utc>> = lines
        .iter()
        .filter_map(|l| l.send.as_ref())
        .map(|s| DateTime::from_timestamp_millis(s.updated_at).unwrap())
        .collect();
    times.sort();
    assert_eq!(times, expected_slots(8));
}

#[tokio::test]
async fn a_pause_until_lifts_by_itself() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("all"))]);
    let mut rig = rig(plan, utc(9, 30));
    rig.store
        .pause(
            &NewPause {
                scope: PauseScope::All,
                until: Some(utc(10, 0).timestamp_millis() + 20_000),
                reason: "storm".into(),
                by: "olena".into(),
            },
            utc(9, 30).timestamp_millis(),
        )
        .unwrap();
    rig.step(utc(10, 0)).await;
    assert!(rig.sent().is_empty());
    rig.step(utc(10, 0) + TimeDelta::seconds(30)).await;
    assert_eq!(rig.sent(), ["demo:hourly"]);
}

// ---- the kill switch on a running service ----------------------------------------------

fn crier_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .args(["--path", dir.to_str().unwrap()])
        .output()
        .unwrap()
}

/// `crier pause` on a running service holds a burst that falls due; `crier status` shows
/// the pause and what it holds; a restart keeps both; `crier resume` lets the posts go, two
/// seconds apart as the rules' gap says, each exactly once. The burst is added (by SIGHUP)
/// only once the pause is recorded, so it cannot fall due before the pause.
#[test]
fn pause_and_resume_on_a_running_service() {
    use crate::support::fake_network::FakeNetwork;
    use crate::support::service;
    use std::time::{Duration, Instant};

    const POSTS: usize = 4;
    let network = FakeNetwork::start();
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  hook: {{ network: webhook, url: \"{}\" }}\npeople:\n  olena: {{ notify: hook }}\n  taras: {{ notify: hook }}\n",
            network.url()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pace.yaml"),
        "kind: rules\nname: pace\napplies_to: all\nlimits:\n  - { min_gap: 2s, each: account }\n",
    )
    .unwrap();
    let playbook = dir.path().join("burst.yaml");
    let due_in = |seconds: i64| {
        let at = (Utc::now() + TimeDelta::seconds(seconds)).format("%Y-%m-%d %H:%M:%S");
        burst("burst", POSTS, &at.to_string(), "hook")
    };
    // Not due for a day: the burst is moved to now once the pause is in.
    std::fs::write(&playbook, due_in(86_400)).unwrap();
    let logs = TempDir::new().unwrap();
    let log = logs.path().join("run.log");
    let child = service::start_logged(dir.path(), &log);
    service::wait_for_log(&log, "crier is running", 1, Duration::from_secs(40));
    let paused = crier_cli(
        dir.path(),
        &[
            "pause",
            "--all",
            "--reason",
            "storm warning",
            "--by",
            "olena",
        ],
    );
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    service::replace_file(&playbook, &due_in(1));
    service::hang_up(&child);
    service::wait_for_log(&log, "reloaded the playbooks", 1, Duration::from_secs(20));
    // Past the posts' time: nothing went out, everything is held.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["status", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains(&format!("({POSTS} post(s) held)")) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.contains("everything by olena since") && status.contains("storm warning"),
        "{status}"
    );
    assert!(
        status.contains(&format!("({POSTS} post(s) held)")),
        "{status}"
    );
    assert!(
        status.contains("hook: held (paused (everything) by olena: storm warning)"),
        "{status}"
    );
    assert_eq!(network.created_count(), 0, "a paused post went out");
    // The pause and what it holds survive a restart of the service.
    service::stop(child);
    let child = service::start(dir.path());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        network.created_count(),
        0,
        "a held post went out after a restart"
    );
    let resumed = crier_cli(dir.path(), &["resume", "--all", "--by", "taras"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    while network.created_count() < POSTS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    service::stop(child);
    assert_eq!(network.created_count(), POSTS, "each post once");
    assert_eq!(network.repeat_count(), 0);
    // The limit gave each send its slot, two seconds after the one before it was claimed:
    // the recorded slots say so, however long each request took on this machine.
    let history = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["history", dir.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let mut slots: Vec<i64> = String::from_utf8(history.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .flat_map(|run| run["outbox"].as_array().cloned().unwrap_or_default())
        .inspect(|send| assert_eq!(send["state"], "sent", "{send}"))
        .map(|send| {
            chrono::DateTime::parse_from_rfc3339(send["next_attempt_at"].as_str().unwrap())
                .expect("times in RFC 3339")
                .timestamp_millis()
        })
        .collect();
    slots.sort();
    assert_eq!(slots.len(), POSTS, "{slots:?}");
    // Slots are stored to the millisecond from instants kept finer, so two of them can sit
    // a millisecond short of the gap; a send taken early would be a whole claim early.
    for pair in slots.windows(2) {
        assert!(pair[1] - pair[0] >= 1_998, "slots {slots:?}");
    }
}

// ---- contradictions ---------------------------------------------------------------------

fn validate(files: &[(&str, &str)]) -> (bool, String) {
    let dir = crate::support::playbooks::folder(CONFIG, files);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["validate", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn validate_reports_rule_sets_that_contradict_each_other() {
    // Two sets whose quiet hours together cover the day, on the same accounts.
    let night = "kind: rules\nname: night\napplies_to: all\nquiet_hours: { from: \"22:00\", to: \"09:00\" }\n";
    let day = "kind: rules\nname: day\napplies_to: [demo]\nquiet_hours: { from: \"08:30\", to: \"22:30\" }\n";
    let (ok, out) = validate(&[("night.yaml", night), ("day.yaml", day)]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("rules `day` and `night` contradict each other")
            || out.contains("rules `night` and `day` contradict each other"),
        "{out}"
    );
    assert!(out.contains("together cover the whole day"), "{out}");
    // Sets on different accounts do not contradict.
    let day_other = day.replace("[demo]", "[other]");
    let night_demo = night.replace("applies_to: all", "applies_to: [demo]");
    let (ok, out) = validate(&[("night.yaml", &night_demo), ("day.yaml", &day_other)]);
    assert!(ok, "{out}");
    // Quiet hours of one set covering the day; a limit of zero.
    let whole = "kind: rules\nname: whole\napplies_to: all\nquiet_hours: { from: \"08:00\", to: \"08:00\" }\nlimits:\n  - { max: 0, per: 1h }\n";
    let (ok, out) = validate(&[("whole.yaml", whole)]);
    assert!(!ok);
    assert!(out.contains("quiet hours cover the whole day"), "{out}");
    assert!(
        out.contains("a limit of 0 posts blocks every post"),
        "{out}"
    );
    // A gap that makes a rate unreachable is a warning, pointed at `max`.
    let (ok, out) = validate(&[(
        "pace.yaml",
        "kind: rules\nname: pace\napplies_to: all\nlimits:\n  - { max: 4, per: 1h }\n  - { min_gap: 20m }\n",
    )]);
    assert!(ok, "{out}");
    assert!(
        out.contains("`max: 4` per 1h can never be reached: `min_gap: 20m` allows at most 3"),
        "{out}"
    );
}

#[tokio::test]
async fn rehearsal_names_the_rule_that_skipped_or_rejected_a_post() {
    let (_dir, plan) = plan_from(&[
        (
            "strict.yaml",
            "kind: rules\nname: strict\napplies_to: all\nquiet_hours: { from: \"22:00\", to: \"06:00\", then: skip }\ncontent:\n  deny_words: [cheap]\n",
        ),
        (
            "sale.yaml",
            "kind: campaign\nname: sale\nposts:\n  - { id: night, at: \"2026-12-01 23:00\", to: demo, text: late }\n  - { id: bad, at: \"2026-12-01 12:00\", to: demo, text: So cheap }\n",
        ),
    ]);
    let lines = rehearse(plan, &[], utc(0, 0), utc(23, 59)).await.unwrap();
    let find = |item: &str| {
        lines
            .iter()
            .find(|l| l.item.as_deref() == Some(item))
            .unwrap()
    };
    let bad = find("bad");
    assert_eq!(
        (bad.kind.as_str(), bad.rule.as_deref()),
        ("rejected", Some("strict"))
    );
    let night = find("night");
    assert_eq!(
        (night.kind.as_str(), night.rule.as_deref()),
        ("skipped", Some("strict"))
    );
    let text = crier::engine::rehearse::render_text(&lines);
    assert!(
        text.contains("0 post(s) would go out, 1 skipped, 1 rejected"),
        "{text}"
    );
}

#[test]
fn pause_and_resume_say_what_is_wrong_with_their_arguments() {
    let dir = crate::support::playbooks::folder(
        &format!(
            "{CONFIG}store: sqlite://crier.db\npeople:\n  olena: {{ notify: demo }}\n  taras: {{ notify: demo }}\n"
        ),
        &[("news.yaml", &hourly("all"))],
    );
    let run = |args: &[&str]| {
        let out = crier_cli(dir.path(), args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&[
        "pause",
        "--account",
        "dmeo",
        "--reason",
        "x",
        "--by",
        "olena",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown account `dmeo`; did you mean `demo`?"),
        "{err}"
    );
    let (code, err) = run(&["pause", "--reason", "x", "--by", "olena"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("say what: --account NAME, --campaign NAME (each may repeat) or --all"),
        "{err}"
    );
    let (code, err) = run(&[
        "pause",
        "--all",
        "--until",
        "2020-01-01 10:00",
        "--reason",
        "x",
        "--by",
        "olena",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--until 2020-01-01 10:00:00 +00:00 is in the past"),
        "{err}"
    );
    let (code, err) = run(&["pause", "--all", "--reason", " ", "--by", "olena"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--reason must say why"), "{err}");
    let (code, err) = run(&["resume", "--campaign", "news", "--by", "taras"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("nothing to resume for campaign `news`: no pause in force on it"),
        "{err}"
    );
    let (code, _) = run(&[
        "pause",
        "--campaign",
        "news",
        "--reason",
        "storm",
        "--by",
        "olena",
    ]);
    assert_eq!(code, Some(0));
    let (code, err) = run(&["resume", "--campaign", "news", "--by", "taras"]);
    assert_eq!(code, Some(0), "{err}");
    // Only the people of crier.yaml pause or resume, whatever the arguments.
    let (code, err) = run(&["pause", "--all", "--reason", "storm", "--by", "olna"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`olna` is not one of the people in crier.yaml; did you mean `olena`?"),
        "{err}"
    );
    let (code, err) = run(&["resume", "--all", "--by", "mallory"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`mallory` is not one of the people"), "{err}");
    let (code, _) = run(&["resume", "--campaign", "news", "--by", "taras"]);
    assert_eq!(code, Some(1), "the refused resume lifted nothing");
}

/// Alerts and approval requests to the team are notices, not posts: a limit that holds the
/// brand's posts on the same account never delays them.
#[tokio::test]
async fn limits_never_delay_notices_to_the_team() {
    let crisis = r#"kind: crisis
name: outage
watch: { accounts: [demo], keywords: [acme], every: 1m }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 1'
    do:
      - notify: duty
      - approve: { by: [duty], timeout: 1h }
"#;
    let config = "timezone: UTC\naccounts:\n  demo: { network: console }\n  other: { network: console }\npeople:\n  duty: { notify: demo }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(
        config,
        &[
            ("pace.yaml", LIMITS),
            ("burst.yaml", &burst("burst", 2, "2026-12-01 10:00", "demo")),
            ("outage.yaml", crisis),
        ],
    );
    let mut rig = rig(plan, utc(9, 0));
    rig.step(utc(10, 0)).await;
    crate::support::crisis::negative_mention(
        rig.store.as_ref(),
        "demo",
        utc(10, 0).timestamp_millis(),
    );
    rig.engine.tick_crises(utc(10, 1)).unwrap();
    rig.step(utc(10, 1)).await;
    // The first post took the account's slot at 10:00 (min_gap 10m); both notices go at
    // 10:01 all the same, and take no slot: the second post goes at 10:10, ten minutes after
    // the first, not after the notices.
    assert_eq!(
        rig.sent(),
        ["demo:p01", "demo:incident-1/1", "demo:incident-1/2"]
    );
    rig.walk(utc(10, 2), utc(10, 10)).await;
    assert_eq!(rig.sent().last().map(String::as_str), Some("demo:p02"));
}

/// A crisis plan's `pause: all` holds every campaign post but neither the team's alerts nor
/// the plan's own holding statement; its `resume:` lifts its own pause and not a person's.
#[tokio::test]
async fn a_crisis_pause_holds_campaigns_but_not_its_own_alerts_and_post() {
    let crisis = r#"kind: crisis
name: outage
watch: { accounts: [demo], keywords: [acme], every: 1m }
levels:
  - name: critical
    when: 'mentions("30m").negative >= 1'
    do:
      - pause: all
      - notify: duty
      - post: { to: [demo], text: "We are on it." }
"#;
    let config = "timezone: UTC\naccounts:\n  demo: { network: console }\n  other: { network: console }\npeople:\n  duty: { notify: other }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(
        config,
        &[
            ("burst.yaml", &burst("burst", 1, "2026-12-01 10:05", "demo")),
            ("outage.yaml", crisis),
        ],
    );
    let mut rig = rig(plan, utc(9, 0));
    rig.pause(PauseScope::Account("other".into()), utc(9, 0));
    crate::support::crisis::negative_mention(
        rig.store.as_ref(),
        "demo",
        utc(10, 0).timestamp_millis(),
    );
    rig.engine.tick_crises(utc(10, 1)).unwrap();
    rig.walk(utc(10, 1), utc(10, 10)).await;
    // The alert goes to `other` though a person paused it; the holding statement goes out;
    // the campaign post waits.
    assert_eq!(rig.sent(), ["other:incident-1/2", "demo:incident-1/3"]);
    let pauses = rig.store.pauses(utc(10, 10).timestamp_millis()).unwrap();
    assert_eq!(pauses.len(), 2);
    assert!(
        pauses
            .iter()
            .any(|p| p.by == "crisis:outage" && p.scope == PauseScope::All)
    );
}
