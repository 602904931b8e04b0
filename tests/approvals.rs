//! Approvals of posts: requests opened ahead with their approvers notified once; approve,
//! reject, each timeout outcome, `need: all`, who may decide and until when; a restart
//! while a post is held; `crier approvals/approve/reject`; rehearsal events; `crier plan`.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use crier::connectors::registry::Connectors;
use crier::engine::approvals;
use crier::engine::rehearse::{RehearsalEvent, rehearse};
use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
use crier::playbook::plan::Plan;
use crier::store::{
    ApprovalState, ApprovalStore, Decision, HistoryFilter, ItemKey, RunState, RunView, SqliteStore,
    Store,
};
use tempfile::TempDir;

const CONFIG: &str = "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  pr_lead: { notify: chat }\n  duty: { notify: chat }\n";

fn campaign(approve: &str) -> String {
    format!(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: \"2026-12-01 10:00\"\n    to: brand\n    text: Warm jackets soon\n    approve: {approve}\n"
    )
}

fn plan_from(approve: &str) -> (TempDir, Arc<Plan>) {
    crate::support::playbooks::valid_plan(CONFIG, &[("sale.yaml", &campaign(approve))])
}

fn utc(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

struct Rig {
    store: Arc<dyn Store>,
    engine: Engine,
    dispatcher: Dispatcher,
    recording: crier::connectors::recording::Recording,
    plan: Arc<Plan>,
}

fn rig_on(plan: Arc<Plan>, store: Arc<dyn Store>, start: DateTime<Utc>) -> Rig {
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    Rig {
        store,
        engine,
        dispatcher,
        recording,
        plan,
    }
}

fn rigged(approve: &str, start: DateTime<Utc>) -> (TempDir, Rig) {
    let (dir, plan) = plan_from(approve);
    let rig = rig_on(plan, Arc::new(SqliteStore::in_memory().unwrap()), start);
    (dir, rig)
}

impl Rig {
    async fn step(&mut self, now: DateTime<Utc>) {
        self.engine.open_approvals(now).unwrap();
        self.engine.fire_due(now).unwrap();
        self.engine.resume_waiting(now).unwrap();
        self.dispatcher.dispatch_due(|| now, None).await.unwrap();
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.recording
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.account.clone(), r.post.text.clone()))
            .collect()
    }

    fn posts_to_brand(&self) -> usize {
        self.sent().iter().filter(|(a, _)| a == "brand").count()
    }

    fn decide(
        &self,
        by: &str,
        decision: Decision,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let approval =
            approvals::find(self.store.as_ref(), "sale/teaser", now).map_err(|e| e.to_string())?;
        approvals::decide(
            self.store.as_ref(),
            &approval,
            by,
            decision,
            note,
            now,
            self.plan.timezone,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    fn teaser_run(&self) -> RunView {
        self.store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .find(|r| r.item == "teaser")
            .expect("the teaser's run")
    }
}

const HOLD: &str = "{ by: [pr_lead], before: 1h, ask: 2h }";

#[tokio::test]
async fn approvers_are_asked_ahead_once_and_an_approved_post_goes_out() {
    let (_dir, mut rig) = rigged(HOLD, utc(6, 0));
    rig.step(utc(6, 0)).await;
    assert!(
        rig.store.approvals(false).unwrap().is_empty(),
        "too early to ask"
    );
    rig.step(utc(7, 0)).await;
    rig.step(utc(7, 1)).await;
    let requests = rig.store.approvals(true).unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (
            request.approvers.clone(),
            request.deadline,
            request.text.as_str()
        ),
        (
            vec!["pr_lead".to_string()],
            utc(9, 0).timestamp_millis(),
            "Warm jackets soon"
        )
    );
    let sent = rig.sent();
    assert_eq!(sent.len(), 1, "notified once: {sent:?}");
    assert_eq!(sent[0].0, "chat");
    assert!(sent[0].1.starts_with("Approval needed (any of pr_lead): sale/teaser goes out 2026-12-01 10:00 on brand:\nWarm jackets soon\nDecide by 2026-12-01 09:00"), "{}", sent[0].1);
    rig.decide("pr_lead", Decision::Approve, Some("lovely"), utc(8, 0))
        .unwrap();
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.posts_to_brand(), 1);
    let run = rig.teaser_run();
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(run.reason.as_deref(), Some("approved by pr_lead (lovely)"));
    let decided = rig.store.approvals(false).unwrap().remove(0);
    assert_eq!(decided.state, ApprovalState::Approved);
    assert_eq!(decided.decisions[0].by, "pr_lead");
    assert_eq!(decided.decisions[0].at, utc(8, 0).timestamp_millis());
}

#[tokio::test]
async fn a_rejected_post_never_goes_out() {
    let (_dir, mut rig) = rigged(HOLD, utc(7, 0));
    rig.step(utc(7, 0)).await;
    assert_eq!(
        rig.decide("pr_lead", Decision::Reject, None, utc(8, 0))
            .unwrap_err(),
        "a rejection needs a note saying why"
    );
    rig.decide("pr_lead", Decision::Reject, Some("off-brand"), utc(8, 0))
        .unwrap();
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.posts_to_brand(), 0);
    let run = rig.teaser_run();
    assert_eq!(
        (run.state, run.reason.as_deref()),
        (RunState::Rejected, Some("rejected by pr_lead (off-brand)"))
    );
}

#[tokio::test]
async fn without_a_decision_each_timeout_does_what_it_says() {
    // skip
    let (_dir, mut rig) = rigged(
        "{ by: [pr_lead], before: 1h, ask: 2h, on_timeout: skip }",
        utc(7, 0),
    );
    rig.step(utc(7, 0)).await;
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.posts_to_brand(), 0);
    let run = rig.teaser_run();
    assert_eq!(
        (run.state, run.reason.as_deref()),
        (
            RunState::Skipped,
            Some("no approval by the deadline (on_timeout: skip)")
        )
    );
    // Too late to decide once the deadline has passed.
    let late = rig
        .decide("pr_lead", Decision::Approve, None, utc(9, 30))
        .unwrap_err();
    assert!(late.starts_with("too late: the decision on sale/teaser at 2026-12-01 10:00 UTC was due by 2026-12-01 09:00 UTC"), "{late}");
    // send
    let (_dir, mut rig) = rigged(
        "{ by: [pr_lead], before: 1h, ask: 2h, on_timeout: send }",
        utc(7, 0),
    );
    rig.step(utc(7, 0)).await;
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.posts_to_brand(), 1);
    assert_eq!(
        rig.teaser_run().reason.as_deref(),
        Some("sent without approval: no decision by the deadline (on_timeout: send)")
    );
    // hold: waits past its time, goes out when approved.
    let (_dir, mut rig) = rigged(HOLD, utc(7, 0));
    rig.step(utc(7, 0)).await;
    rig.step(utc(10, 0)).await;
    rig.step(utc(10, 30)).await;
    assert_eq!(rig.posts_to_brand(), 0);
    assert_eq!(rig.teaser_run().state, RunState::Waiting);
    rig.decide("pr_lead", Decision::Approve, None, utc(11, 0))
        .unwrap();
    rig.step(utc(11, 0)).await;
    assert_eq!(rig.posts_to_brand(), 1);
    assert_eq!(rig.teaser_run().state, RunState::Succeeded);
}

/// `PLAYBOOK/ITEM` names the post's earliest request still open to a decision: a daily
/// post whose yesterday's request ran out (`on_timeout: skip`) is approved today by name.
#[tokio::test]
async fn a_request_past_its_deadline_does_not_stand_in_for_the_next_one() {
    let daily = "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    cron: \"0 10 * * *\"\n    to: brand\n    text: Warm jackets soon\n    approve: { by: [pr_lead], before: 1h, ask: 2h, on_timeout: skip }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("sale.yaml", daily)]);
    let mut rig = rig_on(plan, Arc::new(SqliteStore::in_memory().unwrap()), utc(7, 0));
    rig.step(utc(7, 0)).await;
    rig.step(utc(10, 0)).await;
    assert_eq!(
        rig.posts_to_brand(),
        0,
        "the first day's post had no decision"
    );
    let next_day = |h| utc(h, 0) + chrono::TimeDelta::days(1);
    rig.step(next_day(7)).await;
    assert_eq!(
        rig.store.approvals(true).unwrap().len(),
        2,
        "the first day's request, past its deadline, and the second day's"
    );
    rig.decide("pr_lead", Decision::Approve, None, next_day(8))
        .unwrap();
    rig.step(next_day(10)).await;
    assert_eq!(rig.posts_to_brand(), 1);
    // With every waiting request past its deadline, the earliest is named, and is too late.
    let late = rig
        .decide("pr_lead", Decision::Approve, None, next_day(12))
        .unwrap_err();
    assert!(
        late.starts_with("too late: the decision on sale/teaser at 2026-12-01 10:00 UTC"),
        "{late}"
    );
}

#[tokio::test]
async fn need_all_waits_for_every_approver_and_only_approvers_decide() {
    let (_dir, mut rig) = rigged(
        "{ by: [pr_lead, duty], need: all, before: 1h, ask: 2h }",
        utc(7, 0),
    );
    rig.step(utc(7, 0)).await;
    let stranger = rig
        .decide("olena", Decision::Approve, None, utc(8, 0))
        .unwrap_err();
    assert_eq!(
        stranger,
        "olena cannot decide on sale/teaser at 2026-12-01 10:00 UTC: its approvers are pr_lead, duty"
    );
    rig.decide("pr_lead", Decision::Approve, None, utc(8, 0))
        .unwrap();
    let pending = rig.store.approvals(true).unwrap();
    assert_eq!(pending.len(), 1, "one of two is not enough");
    let twice = approvals::decide(
        rig.store.as_ref(),
        &pending[0],
        "pr_lead",
        Decision::Approve,
        None,
        utc(8, 1),
        chrono_tz::UTC,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        twice,
        "pr_lead has already decided on sale/teaser at 2026-12-01 10:00 UTC"
    );
    rig.decide("duty", Decision::Approve, None, utc(8, 5))
        .unwrap();
    rig.step(utc(10, 0)).await;
    assert_eq!(rig.posts_to_brand(), 1);
    assert_eq!(
        rig.teaser_run().reason.as_deref(),
        Some("approved by pr_lead, duty")
    );
}

#[tokio::test]
async fn a_restart_while_held_keeps_the_approval_and_notifies_no_one_twice() {
    let (dir, plan) = plan_from(HOLD);
    let path = dir.path().join("crier.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let mut rig = rig_on(plan.clone(), store, utc(7, 0));
        rig.step(utc(7, 0)).await;
        rig.step(utc(10, 0)).await;
        assert_eq!(rig.sent().len(), 1, "the approver was told");
        assert_eq!(rig.teaser_run().state, RunState::Waiting);
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let mut rig = rig_on(plan, store, utc(10, 30));
    rig.step(utc(10, 30)).await;
    assert!(
        rig.sent().is_empty(),
        "nothing sent again after the restart"
    );
    assert_eq!(rig.teaser_run().state, RunState::Waiting);
    rig.decide("pr_lead", Decision::Approve, None, utc(10, 40))
        .unwrap();
    rig.step(utc(10, 40)).await;
    assert_eq!(
        rig.sent(),
        [("brand".to_string(), "Warm jackets soon".to_string())]
    );
    let notifications = rig
        .store
        .history(&HistoryFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.item == "teaser/approval")
        .count();
    assert_eq!(notifications, 1);
}

#[test]
fn the_approval_commands_list_approve_and_reject() {
    let (dir, plan) = plan_from(HOLD);
    {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
        let mut engine = Engine::new(plan, "rev", EngineParts::new(store), utc(7, 0)).unwrap();
        engine.start(utc(7, 0)).unwrap();
        // Open it now, whatever today's date: its deadline is in 2026, still ahead.
        engine.open_approvals(utc(7, 0)).unwrap();
    }
    let crier = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .args(["--path", dir.path().to_str().unwrap()])
            .env("USER", "tester")
            .output()
            .unwrap()
    };
    let listed = crier(&["approvals"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("1  sale/teaser  goes out 2026-12-01 10:00 UTC on brand"),
        "{text}"
    );
    assert!(
        text.contains("waiting: any of pr_lead by 2026-12-01 09:00 UTC (then hold)"),
        "{text}"
    );
    // Only the people of crier.yaml act; of them, only the post's approvers decide.
    let stranger = crier(&["approve", "sale/teaser", "--by", "olena"]);
    assert_eq!(stranger.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stranger.stderr)
            .contains("`olena` is not one of the people in crier.yaml"),
        "{}",
        String::from_utf8_lossy(&stranger.stderr)
    );
    let refused = crier(&["approve", "sale/teaser", "--by", "duty"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("duty cannot decide"));
    // The domain says a rejection needs a note; the command names its flag.
    let bare = crier(&["reject", "1", "--by", "pr_lead", "--note", " "]);
    assert_eq!(bare.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bare.stderr).contains("a rejection needs --note saying why"),
        "{}",
        String::from_utf8_lossy(&bare.stderr)
    );
    let rejected = crier(&["reject", "1", "--by", "pr_lead", "--note", "not this week"]);
    assert!(
        rejected.status.success(),
        "{}",
        String::from_utf8_lossy(&rejected.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rejected.stdout).contains("rejected by pr_lead (not this week)")
    );
    let pending = crier(&["approvals"]);
    assert!(String::from_utf8_lossy(&pending.stdout).contains("nothing waits for approval"));
    let all = crier(&["approvals", "--all", "--format", "json"]);
    let line: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(line["state"], "rejected");
    assert_eq!(line["decisions"][0]["by"], "pr_lead");
    assert_eq!(line["decisions"][0]["note"], "not this week");
    for time in [
        &line["fire_at"],
        &line["deadline"],
        &line["created_at"],
        &line["decisions"][0]["at"],
    ] {
        let text = time
            .as_str()
            .unwrap_or_else(|| panic!("a time in RFC 3339: {line}"));
        chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    let store = SqliteStore::open(&dir.path().join("crier.db")).unwrap();
    assert_eq!(
        store
            .approval_for(
                &ItemKey::new("sale", "teaser"),
                utc(10, 0).timestamp_millis()
            )
            .unwrap()
            .unwrap()
            .state,
        ApprovalState::Rejected
    );
}

#[tokio::test]
async fn rehearsal_events_decide_and_the_output_shows_it() {
    let (_dir, plan) = plan_from(HOLD);
    let event: RehearsalEvent = serde_json::from_str(
        r#"{"at":"2026-12-01T08:30:00Z","type":"approval","playbook":"sale","item":"teaser","by":"pr_lead","decision":"approve"}"#,
    )
    .unwrap();
    let lines = rehearse(plan.clone(), &[event], utc(0, 0), utc(12, 0))
        .await
        .unwrap();
    let text = crier::engine::rehearse::render_text(&lines);
    let ask = text
        .find("sale/teaser/approval → chat: Approval needed")
        .expect(&text);
    let decision = text
        .find("approval sale/teaser → pr_lead: approve")
        .expect(&text);
    let post = text
        .find("post     sale/teaser → brand: Warm jackets soon (approved by pr_lead)")
        .expect(&text);
    assert!(ask < decision && decision < post, "{text}");
    // Without the event, the post is held (and never goes out in the rehearsal).
    let lines = rehearse(plan, &[], utc(0, 0), utc(12, 0)).await.unwrap();
    assert!(
        !lines
            .iter()
            .any(|l| l.kind == "post" && l.account.as_deref() == Some("brand"))
    );
}

#[test]
fn plan_says_which_posts_need_approval() {
    let (dir, _plan) = plan_from(HOLD);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "plan",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--from",
            "2026-12-01",
            "--days",
            "1",
        ])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        line["approval"],
        "needs approval: any of pr_lead by 2026-12-01 09:00 (then hold)"
    );
}

#[test]
fn an_approval_names_only_known_people() {
    let dir =
        crate::support::playbooks::folder(CONFIG, &[("sale.yaml", &campaign("{ by: [pr_led] }"))]);
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    let rendered: String = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(rendered.contains("unknown person `pr_led`"), "{rendered}");
    assert!(rendered.contains("pr_lead"), "{rendered}");
}
