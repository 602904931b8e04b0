//! The engine on a virtual clock: missed-run policies, late wake-ups, steps that wait
//! across a restart, reloads, and manual triggers. Sends are not dispatched here; the
//! store's runs and outbox rows are what the engine decided.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use crier::engine::{Engine, EngineParts};
use crier::playbook::plan::Plan;
use crier::store::{
    Batch, HistoryFilter, ItemKey, NewRun, OutboxState, RunState, SqliteStore, StepSpec, StepState,
    Store,
};
use tempfile::TempDir;

const CONFIG: &str =
    "timezone: UTC\naccounts:\n  demo: { network: console }\n  other: { network: console }\n";

fn plan_from(files: &[(&str, &str)]) -> (TempDir, Arc<Plan>) {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    for d in &validated.diagnostics {
        eprintln!("{d}");
    }
    let plan = validated.plan.expect("a valid plan");
    (dir, Arc::new(plan))
}

fn hourly(missed: &str) -> String {
    format!(
        "kind: campaign\nname: news\nposts:\n  - id: hourly\n    cron: \"0 * * * *\"\n    to: demo\n    text: \"news at {{{{ now }}}}\"\n    {missed}\n"
    )
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn engine(plan: &Arc<Plan>, store: &Arc<dyn Store>, now: DateTime<Utc>) -> Engine {
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), now).unwrap();
    engine.start(now).unwrap();
    engine
}

/// (fire hour:minute, state) of every run, oldest first.
fn runs(store: &Arc<dyn Store>) -> Vec<(String, RunState)> {
    let mut runs = store.history(&HistoryFilter::default()).unwrap();
    runs.reverse();
    runs.iter()
        .map(|r| {
            let fired = DateTime::from_timestamp_millis(r.fire_at).unwrap();
            (fired.format("%H:%M").to_string(), r.state)
        })
        .collect()
}

/// Fires at 10:00 and 11:00, then crier is down until 15:30.
fn downtime(missed: &str) -> Vec<(String, RunState)> {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly(missed))]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut first = engine(&plan, &store, at(9, 30));
    assert_eq!(first.fire_due(at(10, 0)).unwrap(), 1);
    assert_eq!(first.fire_due(at(11, 0)).unwrap(), 1);
    drop(first);
    let _second = engine(&plan, &store, at(15, 30));
    runs(&store)
}

use RunState::{Missed, Running};

#[test]
fn missed_skip_records_every_missed_fire_and_sends_none() {
    assert_eq!(
        downtime("missed: skip"),
        [
            ("10:00", Running),
            ("11:00", Running),
            ("12:00", Missed),
            ("13:00", Missed),
            ("14:00", Missed),
            ("15:00", Missed)
        ]
        .map(|(t, s)| (t.to_string(), s))
    );
}

#[test]
fn missed_once_sends_only_the_latest_within_max_late() {
    assert_eq!(
        downtime("missed: once\n    max_late: 2h"),
        [
            ("10:00", Running),
            ("11:00", Running),
            ("12:00", Missed),
            ("13:00", Missed),
            ("14:00", Missed),
            ("15:00", Running)
        ]
        .map(|(t, s)| (t.to_string(), s))
    );
}

#[test]
fn missed_once_sends_nothing_past_max_late() {
    let states: Vec<RunState> = downtime("missed: once\n    max_late: 20m")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(states, [Running, Running, Missed, Missed, Missed, Missed]);
}

#[test]
fn missed_all_sends_each_within_max_late_in_order() {
    assert_eq!(
        downtime("missed: all\n    max_late: 2h"),
        [
            ("10:00", Running),
            ("11:00", Running),
            ("12:00", Missed),
            ("13:00", Missed),
            ("14:00", Running),
            ("15:00", Running)
        ]
        .map(|(t, s)| (t.to_string(), s))
    );
}

#[test]
fn missed_fires_say_why() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("missed: skip"))]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    drop(engine(&plan, &store, at(9, 30)));
    drop(engine(&plan, &store, at(10, 30)));
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(
        history[0].reason.as_deref(),
        Some("crier was not running at its time; `missed: skip`")
    );
}

/// Waking long after a fire (the machine slept) is downtime too: no burst beyond the policy.
#[test]
fn a_late_wake_up_follows_the_missed_policy() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("missed: once\n    max_late: 2h"))]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 30));
    engine.fire_due(at(10, 0)).unwrap();
    engine.fire_due(at(15, 30)).unwrap();
    let states: Vec<RunState> = runs(&store).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, [Running, Missed, Missed, Missed, Missed, Running]);
    assert_eq!(engine.next_fire(), Some(at(16, 0)));
}

/// A fire recorded once is never recorded again, whatever restarts in between.
#[test]
fn restarting_never_repeats_a_fire() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("missed: all"))]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut first = engine(&plan, &store, at(9, 30));
    first.fire_due(at(10, 0)).unwrap();
    for _ in 0..3 {
        let mut again = engine(&plan, &store, at(10, 0));
        again.fire_due(at(10, 0)).unwrap();
    }
    assert_eq!(runs(&store).len(), 1);
}

#[test]
fn when_false_skips_with_the_reason() {
    let (_dir, plan) = plan_from(&[(
        "news.yaml",
        "kind: campaign\nname: news\nposts:\n  - id: weekend\n    cron: \"0 10 * * *\"\n    to: demo\n    text: hi\n    when: 'now.weekday == \"SAT\"'\n",
    )]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 0));
    engine.fire_due(at(10, 0)).unwrap(); // 2026-12-01 is a Tuesday
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(history[0].state, RunState::Skipped);
    assert_eq!(
        history[0].reason.as_deref(),
        Some("`when` was false: now.weekday == \"SAT\"")
    );
    assert!(history[0].outbox.is_empty());
}

#[test]
fn a_post_becomes_one_send_per_account_with_the_rendered_text() {
    let (_dir, plan) = plan_from(&[(
        "sale.yaml",
        "kind: campaign\nname: sale\nvars: { product: Jacket }\nposts:\n  - id: teaser\n    at: 2026-12-01 10:00\n    to: [demo, other]\n    text: \"{{ product }} soon\"\n",
    )]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 0));
    assert_eq!(engine.next_fire(), Some(at(10, 0)));
    engine.fire_due(at(10, 0)).unwrap();
    let run = &store.history(&HistoryFilter::default()).unwrap()[0];
    let sends: Vec<(&str, &str, OutboxState)> = run
        .outbox
        .iter()
        .map(|o| (o.account.as_str(), o.text.as_str(), o.state))
        .collect();
    assert_eq!(
        sends,
        [
            ("demo", "Jacket soon", OutboxState::Pending),
            ("other", "Jacket soon", OutboxState::Pending)
        ]
    );
    assert_eq!(engine.next_fire(), None);
}

/// A reload follows the new revision: a deleted post never goes out; runs already made
/// keep their pinned text.
#[test]
fn a_deleted_post_never_goes_out_after_a_reload() {
    let two = "kind: campaign\nname: sale\nposts:\n  - id: a\n    at: 2026-12-01 10:00\n    to: demo\n    text: first\n  - id: b\n    at: 2026-12-01 11:00\n    to: demo\n    text: second\n";
    let one = "kind: campaign\nname: sale\nposts:\n  - id: a\n    at: 2026-12-01 10:00\n    to: demo\n    text: edited\n";
    let (_dir, plan) = plan_from(&[("sale.yaml", two)]);
    let (_dir2, edited) = plan_from(&[("sale.yaml", one)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 0));
    engine.fire_due(at(10, 0)).unwrap();
    engine.replace_plan(edited, "rev2", at(10, 30)).unwrap();
    assert_eq!(engine.next_fire(), None);
    engine.fire_due(at(12, 0)).unwrap();
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outbox[0].text, "first");
}

/// A step that waits survives a restart and moves on when its time comes.
#[test]
fn a_waiting_step_survives_a_restart() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("crier.db");
    let (_plans, plan) = plan_from(&[("news.yaml", &hourly("missed: skip"))]);
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
        let revision = store.record_revision("rev", 0).unwrap();
        let steps = vec![
            StepSpec::Wait { seconds: 3600 },
            StepSpec::Post {
                to: vec!["demo".into()],
                text: "after the wait".into(),
                media: vec![],
                reply_to: None,
            },
        ];
        store
            .commit(&Batch {
                now: at(9, 0).timestamp_millis(),
                runs: vec![NewRun {
                    key: ItemKey::new("drill", "wait"),
                    fire_at: at(9, 0).timestamp_millis(),
                    revision,
                    state: RunState::Waiting,
                    reason: None,
                    steps,
                    current_step: 0,
                    wake_at: Some(at(10, 0).timestamp_millis()),
                    outbox: vec![],
                }],
                cursors: vec![],
                approvals: vec![],
                ..Batch::default()
            })
            .unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let mut engine = engine(&plan, &store, at(9, 30));
    assert_eq!(engine.resume_waiting(at(9, 59)).unwrap(), 0);
    assert_eq!(engine.resume_waiting(at(10, 0)).unwrap(), 1);
    let run = store
        .history(&HistoryFilter {
            playbook: Some("drill".into()),
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    assert_eq!(run.state, RunState::Running);
    assert_eq!(
        run.steps.iter().map(|s| s.state).collect::<Vec<_>>(),
        [StepState::Done, StepState::Done]
    );
    assert_eq!(run.outbox[0].text, "after the wait");
}

#[test]
fn trigger_fires_an_item_now_and_names_unknown_ones() {
    let (_dir, plan) = plan_from(&[("news.yaml", &hourly("missed: skip"))]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 0));
    let id = engine.trigger("news", "hourly", at(9, 17)).unwrap();
    let run = &store.history(&HistoryFilter::default()).unwrap()[0];
    assert_eq!(
        (run.id, run.reason.as_deref()),
        (id, Some("triggered by hand"))
    );
    let error = engine.trigger("news", "hourli", at(9, 18)).unwrap_err();
    assert_eq!(error.to_string(), "unknown item `news/hourli`");
}

/// The same input gives byte-identical output, and a rehearsal writes no store file.
#[test]
fn rehearsal_is_deterministic_and_touches_no_file() {
    let copy = crate::support::playbooks::quickstart_copy();
    let quickstart = copy.path().to_str().unwrap();
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args([
                "rehearse",
                quickstart,
                "--events",
                &format!("{quickstart}/events.jsonl"),
            ])
            .args([
                "--from",
                "2026-12-01 00:00",
                "--until",
                "2026-12-10 00:00",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let first = run();
    assert_eq!(first, run());
    let text = String::from_utf8(first).unwrap();
    assert!(
        text.contains(
            r#""kind":"post","playbook":"winter-sale","item":"teaser","account":"brand_mastodon""#
        ),
        "{text}"
    );
    assert!(text.contains(r#""kind":"mention""#));
    let left: Vec<_> = std::fs::read_dir(quickstart)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("crier.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A post added while crier was down, timed inside the downtime, is treated like a missed
/// one (here `once`: sent late); on the very first start, past posts are simply not sent.
#[test]
fn a_post_added_during_downtime_follows_its_missed_policy() {
    let later = "kind: campaign\nname: sale\nposts:\n  - id: added\n    at: 2026-12-01 09:30\n    to: demo\n    text: hi\n    missed: once\n";
    let (_dir, empty) = plan_from(&[]);
    let (_dir2, plan) = plan_from(&[("sale.yaml", later)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    drop(engine(&empty, &store, at(9, 0)));
    drop(engine(&plan, &store, at(10, 0)));
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, RunState::Running);
    assert!(
        history[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("sent late"),
        "{:?}",
        history[0].reason
    );

    let fresh: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    drop(engine(&plan, &fresh, at(10, 0)));
    assert!(fresh.history(&HistoryFilter::default()).unwrap().is_empty());
}

/// A campaign `when:` sees the run: which item, when it was due, how late it is, and why it
/// fires; a late catch-up can hold itself back.
#[test]
fn conditions_see_the_run() {
    let (_dir, plan) = plan_from(&[(
        "news.yaml",
        "kind: campaign\nname: news\nposts:\n  - id: hourly\n    cron: \"0 * * * *\"\n    to: demo\n    text: news\n    missed: once\n    max_late: 12h\n    when: 'run.item == \"hourly\" && run.playbook == \"news\" && run.late_seconds < 600 && run.scheduled_at.starts_with(\"2026-12-01T\")'\n",
    )]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut first = engine(&plan, &store, at(9, 30));
    assert_eq!(first.fire_due(at(10, 0)).unwrap(), 1);
    drop(first);
    // Down until 15:30: the 15:00 fire is caught up 30 minutes late, and its own condition
    // (at most 10 minutes late) skips it.
    let _second = engine(&plan, &store, at(15, 30));
    let states: Vec<RunState> = runs(&store).into_iter().map(|(_, s)| s).collect();
    assert_eq!(states.first(), Some(&Running));
    assert_eq!(
        states.last(),
        Some(&RunState::Skipped),
        "{:?}",
        runs(&store)
    );
}

/// A rehearsal sends a thread in order: a reply fired the same day as its parent replies to
/// the parent's id (the day's fires stop before it until the parent has gone out).
#[test]
fn rehearsal_replies_within_a_day_reply_to_their_parent() {
    let (dir, _plan) = plan_from(&[(
        "thread.yaml",
        "kind: campaign\nname: thread\nposts:\n  - { id: first, at: \"2026-12-01 10:00\", to: demo, text: \"1/2 the news\" }\n  - { id: second, at: \"2026-12-01 10:05\", to: demo, text: \"2/2 more\", reply_to: first }\n",
    )]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["rehearse", dir.path().to_str().unwrap()])
        .args(["--from", "2026-12-01", "--until", "2026-12-02"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "2026-12-01 10:05 +00:00  post     thread/second → demo: 2/2 more (reply to thread/first)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_month_down_sends_the_latest_fire_and_records_every_one() {
    let every_minute = "kind: campaign\nname: news\nposts:\n  - id: ticker\n    cron: \"* * * * *\"\n    to: demo\n    text: tick\n    missed: once\n";
    let (_dir, plan) = plan_from(&[("news.yaml", every_minute)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut first = engine(&plan, &store, at(9, 30));
    assert_eq!(first.fire_due(at(9, 31)).unwrap(), 1);
    drop(first);
    // Down for thirty days: 43,200 fires went by.
    let back = at(9, 31) + chrono::TimeDelta::days(30) + chrono::TimeDelta::seconds(30);
    let _second = engine(&plan, &store, back);
    let status = store.status().unwrap();
    assert_eq!(
        status.runs,
        [("missed".to_string(), 43_199), ("running".to_string(), 2)]
    );
    let latest = &store
        .history(&HistoryFilter {
            limit: Some(1),
            ..HistoryFilter::default()
        })
        .unwrap()[0];
    assert_eq!(
        (latest.fire_at, latest.state),
        (
            (at(9, 31) + chrono::TimeDelta::days(30)).timestamp_millis(),
            Running
        ),
        "the latest missed fire is the one sent"
    );
}

#[test]
fn a_store_error_reading_an_approval_is_not_a_decision() {
    use crier::store::Decision;
    let config = "timezone: UTC\naccounts:\n  demo: { network: console }\n  chat: { network: console }\npeople:\n  pr_lead: { notify: chat }\n";
    let campaign = "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: \"2026-12-01 10:00\"\n    to: demo\n    text: Warm jackets soon\n    approve: { by: [pr_lead], before: 1h, ask: 2h, on_timeout: skip }\n";
    let (dir, plan) = crate::support::playbooks::valid_plan(config, &[("sale.yaml", campaign)]);
    let file = dir.path().join("crier.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let mut engine = engine(&plan, &store, at(7, 0));
    assert_eq!(engine.open_approvals(at(7, 0)).unwrap(), 1);
    let approval = store.approvals(true).unwrap()[0].id;
    store
        .decide(
            approval,
            "pr_lead",
            Decision::Approve,
            None,
            at(8, 0).timestamp_millis(),
        )
        .unwrap();
    // The approvals cannot be read at the post's time.
    let side = rusqlite::Connection::open(&file).unwrap();
    side.execute_batch("ALTER TABLE approvals RENAME TO approvals_away")
        .unwrap();
    assert!(engine.fire_due(at(10, 0)).is_err());
    let teaser_runs = |store: &Arc<dyn Store>| {
        store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .filter(|run| run.item == "teaser")
            .collect::<Vec<_>>()
    };
    assert!(
        teaser_runs(&store).is_empty(),
        "an unreadable approval was taken for a decision: {:?}",
        teaser_runs(&store)
    );
    // Once the store answers again the post goes out, approved.
    side.execute_batch("ALTER TABLE approvals_away RENAME TO approvals")
        .unwrap();
    assert_eq!(engine.fire_due(at(10, 0)).unwrap(), 1);
    let teaser = &teaser_runs(&store)[0];
    assert_eq!(teaser.state, Running);
    assert_eq!(teaser.outbox.len(), 1);
}

/// A one-off post whose time passed before the service first saw it is recorded as missed,
/// with the reason, once; `crier history` shows it, and shows when a late send went out.
#[test]
fn a_one_off_already_past_is_recorded_as_missed_and_history_shows_late_sends() {
    use crier::store::{Claim, OutboxOutcome};
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  out: { network: console }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("news.yaml"),
        "kind: campaign\nname: news\nposts:\n  - id: old\n    at: \"2030-01-01 09:00\"\n    to: out\n    text: old news\n  - id: late\n    at: \"2030-01-01 11:00\"\n    to: out\n    text: late news\n",
    )
    .unwrap();
    let plan = Arc::new(
        crier::playbook::load::load_and_validate(dir.path())
            .unwrap()
            .plan
            .unwrap(),
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    let ten = Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).unwrap();
    let mut first = engine(&plan, &store, ten);
    assert_eq!(first.record_passed_one_offs(ten).unwrap(), 1);
    assert_eq!(first.record_passed_one_offs(ten).unwrap(), 0);
    // A restart finds it recorded.
    let later = ten + chrono::TimeDelta::minutes(5);
    let mut second = engine(&plan, &store, later);
    assert_eq!(second.record_passed_one_offs(later).unwrap(), 0);
    let old = store
        .history(&HistoryFilter::default())
        .unwrap()
        .into_iter()
        .find(|run| run.item == "old")
        .expect("a run of the past post");
    assert_eq!(old.state, RunState::Missed);
    assert_eq!(
        old.reason.as_deref(),
        Some(crier::playbook::plan::PASSED_BEFORE_LOADED)
    );

    // The other post fires at 11:00 and the network takes it at 11:07.
    let eleven = Utc.with_ymd_and_hms(2030, 1, 1, 11, 0, 0).unwrap();
    assert_eq!(second.fire_due(eleven).unwrap(), 1);
    let sent_at = (eleven + chrono::TimeDelta::minutes(7)).timestamp_millis();
    let claim = Claim {
        owner: "test",
        now: eleven.timestamp_millis(),
        lease_until: sent_at + 60_000,
        run: None,
        skip_accounts: &[],
    };
    let rows = store.claim_outbox(&claim, 10).unwrap();
    let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
    store.mark_in_flight("test", &ids, sent_at).unwrap();
    let sent = OutboxOutcome::Sent {
        remote_id: "r-1".into(),
    };
    store
        .finish_outbox("test", &[(ids[0], sent)], sent_at)
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["history", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(
        history.contains("news/old fired 2030-01-01 09:00:00 +00:00 missed — its time had passed when the plan was loaded"),
        "{history}"
    );
    assert!(
        history.contains("out: sent 2030-01-01 11:07:00 +00:00, 7m after its time (id r-1)"),
        "{history}"
    );
}

/// A one-off post that falls due while the service is still loading and opening its store
/// (a slow start on a busy machine) was seen before its time: it goes out, late, instead of
/// being recorded as passed before the plan was loaded.
#[test]
fn a_one_off_due_while_the_service_starts_goes_out_late_not_missed() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  out: { network: console }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("news.yaml"),
        "kind: campaign\nname: news\nposts:\n  - id: old\n    at: \"2030-01-01 09:58\"\n    to: out\n    text: old news\n  - id: soon\n    at: \"2030-01-01 10:00\"\n    to: out\n    text: soon\n",
    )
    .unwrap();
    let plan = Arc::new(
        crier::playbook::load::load_and_validate(dir.path())
            .unwrap()
            .plan
            .unwrap(),
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    // Read at 09:59:50; the store opened and the engine started 30 s later, after 10:00.
    let seen = Utc.with_ymd_and_hms(2030, 1, 1, 9, 59, 50).unwrap();
    let started = seen + chrono::TimeDelta::seconds(30);
    let mut engine = Engine::new(
        plan.clone(),
        "rev",
        EngineParts::new(store.clone()),
        started,
    )
    .unwrap();
    engine.start_seen_at(seen, started).unwrap();
    assert_eq!(engine.record_passed_one_offs(seen).unwrap(), 1);
    let history = store.history(&HistoryFilter::default()).unwrap();
    let state_of = |item: &str| {
        history
            .iter()
            .find(|run| run.item == item)
            .map(|run| (run.state, run.reason.clone()))
    };
    let (old, reason) = state_of("old").expect("a run of the post due before the plan was read");
    assert_eq!(old, RunState::Missed);
    assert_eq!(
        reason.as_deref(),
        Some(crier::playbook::plan::PASSED_BEFORE_LOADED)
    );
    let (soon, _) = state_of("soon").expect("a run of the post due while starting");
    assert_ne!(soon, RunState::Missed, "{history:?}");
}

/// A burst larger than a chunk is committed chunk by chunk: the first chunk's posts can be
/// claimed and sent while the later chunks are not yet built, and the burst still ends in
/// exactly one run and one send per fire.
#[test]
fn a_burst_is_committed_and_sendable_chunk_by_chunk() {
    use crier::connectors::Connectors;
    use crier::engine::{Dispatcher, FIRE_CHUNK, RetryPolicy};

    let posts = 2 * FIRE_CHUNK + FIRE_CHUNK / 2;
    let mut csv = String::from("at,to,text\n");
    for n in 0..posts {
        csv.push_str(&format!("2026-12-01 10:00,demo,post {n}\n"));
    }
    let (_dir, plan) = plan_from(&[
        ("burst.csv", &csv),
        (
            "burst.yaml",
            "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n",
        ),
    ]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = engine(&plan, &store, at(9, 0));
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // After each chunk's commit: how many runs the store holds, and how many posts had
    // gone out by then (the first chunk is sent at once, before the next is built).
    let mut seen = Vec::new();
    let fired = engine
        .fire_due_in_chunks(at(10, 0), &mut |runs| {
            let stored = store
                .status()
                .unwrap()
                .runs
                .iter()
                .map(|(_, n)| n)
                .sum::<i64>();
            if seen.is_empty() {
                runtime
                    .block_on(dispatcher.dispatch_due(|| at(10, 0), None))
                    .unwrap();
            }
            seen.push((runs.len(), stored, recording.lock().unwrap().len()));
        })
        .unwrap();
    assert_eq!(fired, posts);
    assert_eq!(
        seen,
        [
            (FIRE_CHUNK, FIRE_CHUNK as i64, FIRE_CHUNK),
            (FIRE_CHUNK, 2 * FIRE_CHUNK as i64, FIRE_CHUNK),
            (FIRE_CHUNK / 2, posts as i64, FIRE_CHUNK),
        ]
    );
    runtime
        .block_on(dispatcher.dispatch_due(|| at(10, 0), None))
        .unwrap();
    let sent = recording.lock().unwrap();
    let keys: std::collections::HashSet<_> = sent
        .iter()
        .map(|r| r.post.idempotency_key.clone())
        .collect();
    assert_eq!((sent.len(), keys.len()), (posts, posts));
    // Nothing more is due: a second call fires nothing and commits only that it was alive.
    assert_eq!(engine.fire_due(at(10, 0)).unwrap(), 0);
}

/// A stop requested while a burst is being fired, after its first chunk's commit: the
/// chunk being built is dropped, and an engine started on the same store (a restart) fires
/// every post not yet recorded, none twice.
#[test]
fn a_burst_stopped_between_chunks_fires_the_rest_after_a_restart() {
    use crier::engine::FIRE_CHUNK;
    use crier::store::StoreError;

    let posts = 2 * FIRE_CHUNK + FIRE_CHUNK / 2;
    let mut csv = String::from("at,to,text\n");
    for n in 0..posts {
        csv.push_str(&format!("2026-12-01 10:00,demo,post {n}\n"));
    }
    let (_dir, plan) = plan_from(&[
        ("burst.csv", &csv),
        (
            "burst.yaml",
            "kind: campaign\nname: burst\nposts:\n  - calendar: burst.csv\n    missed: all\n",
        ),
    ]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let stored = || {
        store
            .status()
            .unwrap()
            .runs
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let mut first = engine(&plan, &store, at(9, 0));
    let stop = crier::text::StopFlag::default();
    first.interrupt_on(stop.clone());
    let fired = first.fire_due_in_chunks(at(10, 0), &mut |_| stop.request());
    assert!(matches!(fired, Err(StoreError::Interrupted)), "{fired:?}");
    assert_eq!(stored(), FIRE_CHUNK as i64);
    drop(first);
    let later = at(10, 0) + chrono::TimeDelta::seconds(5);
    let mut restarted = engine(&plan, &store, later);
    restarted.fire_due(later).unwrap();
    assert_eq!(stored(), posts as i64);
    let keys: std::collections::HashSet<_> = store
        .history(&HistoryFilter::default())
        .unwrap()
        .into_iter()
        .map(|run| run.item)
        .collect();
    assert_eq!(keys.len(), posts);
}

/// A start that catches up a long outage commits its missed fires in chunks; a crash after
/// the first chunk leaves every fire it did not reach to the next start: no item is taken as
/// caught up because another item's chunk was committed.
#[test]
fn a_start_cut_short_between_catch_up_chunks_records_every_fire_after_a_restart() {
    let every_minute =
        |id: &str| format!("  - id: {id}\n    cron: \"* * * * *\"\n    to: demo\n    text: {id}\n");
    let campaign = format!(
        "kind: campaign\nname: ticks\nposts:\n{}{}",
        every_minute("first"),
        every_minute("second")
    );
    let (dir, plan) = plan_from(&[("ticks.yaml", &campaign)]);
    let file = dir.path().join("crier.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    drop(engine(&plan, &store, at(10, 0)));
    // Eight days down: 11,520 fires of each item, more than one chunk of catch-up.
    let back = at(10, 0) + chrono::TimeDelta::days(8);
    let side = rusqlite::Connection::open(&file).unwrap();
    side.execute_batch(
        "CREATE TRIGGER crash_after_a_chunk BEFORE INSERT ON runs \
         WHEN (SELECT count(*) FROM runs) >= 10000 BEGIN SELECT RAISE(ABORT, 'crashed'); END;",
    )
    .unwrap();
    let mut cut_short =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), back).unwrap();
    assert!(cut_short.start(back).is_err());
    drop(cut_short);
    side.execute_batch("DROP TRIGGER crash_after_a_chunk")
        .unwrap();
    let later = back + chrono::TimeDelta::seconds(30);
    drop(engine(&plan, &store, later));
    let history = store.history(&HistoryFilter::default()).unwrap();
    for item in ["first", "second"] {
        let fires = history.iter().filter(|run| run.item == item).count();
        assert_eq!(fires, 8 * 24 * 60, "{item}");
    }
}

/// A chunk whose commit fails, with the store unreadable too, leaves its items' cursors
/// where they were: the fire, retried late, is caught up on, not lost.
#[test]
fn a_fire_whose_commit_fails_is_fired_again_when_the_store_is_back() {
    let (dir, plan) = plan_from(&[("news.yaml", &hourly("missed: all\n    max_late: 2h"))]);
    let file = dir.path().join("crier.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let mut engine = engine(&plan, &store, at(9, 30));
    let side = rusqlite::Connection::open(&file).unwrap();
    side.execute_batch("ALTER TABLE cursors RENAME TO cursors_away")
        .unwrap();
    assert!(engine.fire_due(at(10, 0)).is_err());
    side.execute_batch("ALTER TABLE cursors_away RENAME TO cursors")
        .unwrap();
    // Back five minutes later: past the grace, so the missed policy catches up from the cursor.
    assert_eq!(engine.fire_due(at(10, 5)).unwrap(), 1);
    assert_eq!(runs(&store), [("10:00".to_string(), Running)]);
}

/// A reload whose store fails while the engine starts on the new plan leaves the engine on
/// the plan, queue and cursors it had.
#[test]
fn a_reload_that_fails_keeps_the_running_plan() {
    let (dir, plan) = plan_from(&[("news.yaml", &hourly("missed: all\n    max_late: 2h"))]);
    let every_quarter = "kind: campaign\nname: news\nposts:\n  - id: hourly\n    cron: \"*/15 * * * *\"\n    to: demo\n    text: edited\n    missed: all\n    max_late: 2h\n";
    let (_dir2, edited) = plan_from(&[("news.yaml", every_quarter)]);
    let file = dir.path().join("crier.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let mut engine = engine(&plan, &store, at(9, 30));
    assert_eq!(engine.fire_due(at(10, 0)).unwrap(), 1);
    // The new plan catches up on 10:15, 10:30 and 10:45; no run can be stored.
    let side = rusqlite::Connection::open(&file).unwrap();
    side.execute_batch(
        "CREATE TRIGGER refuse_runs BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .unwrap();
    assert!(engine.replace_plan(edited, "rev2", at(10, 50)).is_err());
    side.execute_batch("DROP TRIGGER refuse_runs").unwrap();
    assert_eq!(engine.next_fire(), Some(at(11, 0)));
    assert_eq!(engine.fire_due(at(11, 0)).unwrap(), 1);
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|run| run.outbox[0].text.starts_with("news at")),
        "{history:?}"
    );
}

/// A year of cron items under posting rules (limits that defer, quiet hours that delay, a
/// blackout, a denied word), approvals decided by events (approved, rejected, one timed out),
/// a thread and daylight-saving changes.
const YEAR_CONFIG: &str = "timezone: Europe/Kyiv\naccounts:\n  brand_mastodon: { network: console }\n  brand_bluesky: { network: console }\n  brand_telegram: { network: console }\n  oncall_slack: { network: console }\npeople:\n  pr_lead: { notify: oncall_slack, name: Olena, role: admin }\n";
const YEAR_RULES: &str = r#"kind: rules
name: house
timezone: Europe/Kyiv
applies_to: all
limits:
  - { max: 4, per: 1h, each: account }
  - { min_gap: 10m, each: account }
quiet_hours: { from: "23:00", to: "08:00", then: delay }
blackout: ["2027-06-10 00:00 .. 2027-06-12 12:00"]
content:
  deny_words: [cheap]
  append: " #house"
"#;
const YEAR_CAMPAIGN: &str = r#"kind: campaign
name: year
timezone: Europe/Kyiv
vars: { product: Jacket }
posts:
  - { id: morning, cron: "0 9 * * *", to: [brand_mastodon, brand_bluesky], text: "Good morning from {{ product }}" }
  - { id: night-owl, cron: "30 3 * * SUN", to: brand_telegram, text: "Night owl {{ product }}" }
  - { id: burst, cron: "*/20 8-9 * * MON", to: brand_mastodon, text: "Burst {{ product }}" }
  - { id: late, cron: "0 23 * * FRI", to: brand_bluesky, text: "Late {{ product }}" }
  - { id: monthly, cron: "15 0 1 * *", to: brand_telegram, text: "Monthly {{ product }}" }
  - { id: bargain, cron: "0 14 * * TUE", to: brand_mastodon, text: "A cheap {{ product }}" }
  - { id: thread-start, cron: "0 10 * * WED", to: brand_mastodon, text: "1/2 {{ product }} news" }
  - { id: thread-more, cron: "5 10 * * WED", to: brand_mastodon, text: "2/2 more", reply_to: thread-start }
  - { id: dst, cron: "30 3 * 3,10 *", to: brand_bluesky, text: "DST {{ product }}" }
  - { id: hourly-sat, cron: "0 */3 * * SAT", to: brand_telegram, text: "Saturday {{ product }}" }
  - id: signed
    cron: "0 12 * * THU"
    to: brand_mastodon
    text: "Signed {{ product }}"
    approve: { by: [pr_lead], before: 2h, ask: 1d, on_timeout: skip }
"#;

/// The year's events: on each Thursday of 2027 but the last, the post waiting for approval
/// is approved or rejected in turn (the last times out); a mention every fifth week.
fn year_events() -> String {
    let kyiv_winter = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
    let mut events = String::new();
    let mut day = Utc.with_ymd_and_hms(2027, 1, 7, 6, 0, 0).unwrap();
    let mut week = 0;
    while day < Utc.with_ymd_and_hms(2027, 12, 25, 0, 0, 0).unwrap() {
        let at = day.with_timezone(&kyiv_winter);
        let (decision, note) = match week % 2 {
            0 => ("approve", "ok"),
            _ => ("reject", "off-brand"),
        };
        events.push_str(&format!(
            "{{\"at\":\"{}\",\"type\":\"approval\",\"playbook\":\"year\",\"item\":\"signed\",\"by\":\"pr_lead\",\"decision\":\"{decision}\",\"note\":\"{note}\"}}\n",
            at.to_rfc3339()
        ));
        if week % 5 == 0 {
            events.push_str(&format!(
                "{{\"at\":\"{}\",\"type\":\"mention\",\"account\":\"brand_mastodon\",\"author\":\"@a\",\"text\":\"hello\"}}\n",
                (at + chrono::TimeDelta::hours(1)).to_rfc3339()
            ));
        }
        day += chrono::TimeDelta::days(7);
        week += 1;
    }
    events
}

/// `crier rehearse` of `folder` in `format`, its output.
fn rehearsed(folder: &std::path::Path, events: &std::path::Path, format: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("rehearse")
        .arg(folder)
        .arg("--events")
        .arg(events)
        .args([
            "--from",
            "2027-01-01",
            "--until",
            "2028-01-01",
            "--format",
            format,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// A rehearsal's output is the one it was before its path changed (the text and the JSON,
/// byte for byte, as digests of the output the previous build wrote): a year of cron items
/// with limits, quiet hours, a blackout, denied words, approvals, a thread and DST changes.
#[test]
fn a_year_with_rules_and_approvals_rehearses_as_it_did_before() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), YEAR_CONFIG).unwrap();
    std::fs::write(dir.path().join("rules.yaml"), YEAR_RULES).unwrap();
    std::fs::write(dir.path().join("year.yaml"), YEAR_CAMPAIGN).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, year_events()).unwrap();
    let text = rehearsed(dir.path(), &events, "text");
    assert!(
        text.ends_with(YEAR_SUMMARY),
        "{}",
        text.lines().last().unwrap_or_default()
    );
    assert_eq!(sha256(&text), YEAR_TEXT_SHA256);
    let json = rehearsed(dir.path(), &events, "json");
    assert_eq!(json.lines().count(), YEAR_JSON_LINES);
    assert_eq!(sha256(&json), YEAR_JSON_SHA256);
}

const YEAR_SUMMARY: &str = "\n1818 post(s) would go out, 1 skipped, 77 rejected, 0 missed, 0 failed; 62 input event(s). Nothing was sent.\n";
const YEAR_TEXT_SHA256: &str = "396cd963324ad4fd6bb7bfbfaa88b99c470f69bd7e24a148625f0b2d8a044918";
const YEAR_JSON_LINES: usize = 1959;
const YEAR_JSON_SHA256: &str = "a082077a6f539e0d125e43bcc12570f983b93f52df53626d6c664de97fd76078";

/// The engine's cursors are keyed by both names of an item held in one allocation: the
/// boundary between the names counts (`ab`/`c` is not `a`/`bc`), a later insert replaces,
/// and a merge keeps the later of two cursors.
#[test]
fn cursors_keep_both_names_apart_and_merge_to_the_later() {
    use crier::engine::timeline::Cursors;
    let at = |s: i64| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
    let ab_c = ItemKey::new("ab", "c");
    let a_bc = ItemKey::new("a", "bc");
    let mut cursors = Cursors::default();
    assert!(cursors.is_empty());
    assert_eq!(cursors.insert(&ab_c, at(1)), None);
    assert_eq!(cursors.get(&ab_c), Some(at(1)));
    assert_eq!(cursors.get(&a_bc), None);
    assert_eq!(cursors.insert(&a_bc, at(2)), None);
    assert_eq!(cursors.insert(&ab_c, at(3)), Some(at(1)));
    assert_eq!(
        (cursors.get(&ab_c), cursors.get(&a_bc)),
        (Some(at(3)), Some(at(2)))
    );

    let other: Cursors = [
        (ab_c.clone(), at(2)),
        (a_bc.clone(), at(5)),
        (ItemKey::new("x", "y"), at(7)),
    ]
    .into_iter()
    .collect();
    cursors.advance_to(&other);
    assert_eq!(cursors.get(&ab_c), Some(at(3)));
    assert_eq!(cursors.get(&a_bc), Some(at(5)));
    assert_eq!(cursors.get(&ItemKey::new("x", "y")), Some(at(7)));
    assert_eq!(cursors.remove(&a_bc), Some(at(5)));
    assert_eq!(cursors.get(&a_bc), None);
}
