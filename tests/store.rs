//! One suite of store behaviours, written once over `&dyn Store` and run against SQLite
//! twice: each call its own transaction (`crier run`), and every call inside one group
//! (`begin_group`, a rehearsal's virtual tick), where each call is a savepoint. A last test
//! drives both with the same long seeded sequence of calls and requires every answer to be
//! the same, refused calls included.

use crier::connectors::OutgoingPost;
use crier::store::{
    Batch, Claim, HistoryFilter, ItemKey, Millis, NewOutbox, NewPause, NewRun, OutboxId,
    OutboxOutcome, OutboxRow, OutboxState, PauseScope, Recovered, Release, RunAdvance, RunState,
    RunStore, RunsPageFilter, SqliteStore, StepSpec, StepState, Store, StoreResult, ViewStore,
};

/// Runs each case against both ways, as `store::sqlite::<case>` and `store::grouped::<case>`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                super::$case(&crier::store::SqliteStore::in_memory().unwrap());
            })*
        }
        mod grouped {
            $(#[test]
            fn $case() {
                let store = super::grouped();
                super::$case(&store);
                store.commit_group().unwrap();
            })*
        }
    };
}

/// A store whose calls all run inside one open group.
fn grouped() -> SqliteStore {
    let store = SqliteStore::in_memory().unwrap();
    store.begin_group().unwrap();
    store
}

contract!(
    revisions_are_numbered_once_per_digest,
    last_alive_is_the_latest_commit,
    a_batch_commits_runs_steps_and_sends,
    a_fire_is_recorded_once,
    cursors_only_move_forward,
    a_sent_send_settles_its_run,
    a_retry_comes_back_when_due_with_one_attempt_more,
    a_failed_send_fails_its_run_with_the_first_failure,
    claims_are_due_ordered_limited_and_never_twice,
    claims_can_be_limited_to_one_run,
    sends_left_sending_are_recovered_in_doubt,
    only_the_claimant_marks_renews_and_finishes_its_sends,
    a_sends_handle_is_kept_by_its_claimant_across_a_take_back,
    a_claim_leaves_the_accounts_it_is_told_to,
    a_service_takes_back_a_stopped_services_claims_at_once,
    a_repeated_idempotency_key_is_ignored,
    the_latest_remote_id_is_the_latest_fire_that_sent,
    waiting_steps_wake_and_runs_advance,
    an_advance_that_lost_a_race_changes_nothing,
    an_aborted_run_ends_with_its_reason,
    history_is_newest_first_and_filters,
    status_counts_and_lists_runs_in_flight,
    timeline_lists_every_run_and_send_oldest_first,
    a_refused_commit_writes_nothing,
    finishing_an_unknown_send_changes_nothing,
    metrics_snapshots_and_recent_posts,
    pauses_are_recorded_listed_expire_and_lift,
    held_sends_wait_unclaimed_and_are_released_or_skipped,
    a_deferred_send_comes_back_at_its_slot_without_an_attempt,
    send_slots_are_recent_sends_and_future_ones,
    sessions_end_and_login_links_are_used_once_before_they_expire,
    crisis_mentions_are_stored_once_with_their_cursor,
    many_mentions_count_each_new_key_once_in_order,
    crisis_states_incidents_and_pauses_commit_together,
    incident_actions_wait_until_applied,
    contest_entries_are_read_by_key,
    unchecked_entries_are_those_made_by_the_close_not_read_again,
    pages_of_runs_start_at_their_cursor_and_filter,
    finish_and_mark_records_results_and_marks_of_the_claimant,
);

const T: Millis = 1_800_000_000_000;
const MINUTE: Millis = 60_000;
/// The owner of the claims most cases make, with a lease that outlasts every case.
const OWNER: &str = "dispatcher-1";
const LONG_LEASE: Millis = 1_000_000 * MINUTE;

/// Claims and results as one dispatcher (`OWNER`) makes them.
trait Dispatching {
    fn claim(&self, now: Millis, limit: usize, run: Option<i64>) -> StoreResult<Vec<OutboxRow>>;
    fn finish(
        &self,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>>;
}

impl<S: Store + ?Sized> Dispatching for S {
    fn claim(&self, now: Millis, limit: usize, run: Option<i64>) -> StoreResult<Vec<OutboxRow>> {
        self.claim_outbox(&claim_by(OWNER, now, now + LONG_LEASE, run, &[]), limit)
    }

    fn finish(
        &self,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        self.finish_outbox(OWNER, outcomes, now)
    }
}

fn claim_by<'a>(
    owner: &'a str,
    now: Millis,
    lease_until: Millis,
    run: Option<i64>,
    skip_accounts: &'a [String],
) -> Claim<'a> {
    Claim {
        owner,
        now,
        lease_until,
        run,
        skip_accounts,
    }
}

fn post(key: &ItemKey, fire_at: Millis, step: usize, account: &str, text: &str) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: crier::store::idempotency_key(key, fire_at, step, account),
        text: text.into(),
        media: vec![],
        reply_to: None,
        playbook: key.playbook.clone(),
        item: key.item.clone(),
        direct_to: None,
        notice: false,
    }
}

/// A run of one post step to `accounts`, sends due at the fire time.
fn posting(
    revision: i64,
    playbook: &str,
    item: &str,
    fire_at: Millis,
    accounts: &[&str],
) -> NewRun {
    let key = ItemKey::new(playbook, item);
    let text = format!("{item} at {fire_at}");
    NewRun {
        outbox: accounts
            .iter()
            .map(|account| NewOutbox {
                step: 0,
                account: account.to_string(),
                post: post(&key, fire_at, 0, account, &text),
                due: fire_at,
            })
            .collect(),
        key,
        fire_at,
        revision,
        state: RunState::Running,
        reason: None,
        steps: vec![StepSpec::Post {
            to: accounts.iter().map(|a| a.to_string()).collect(),
            text,
            media: vec![],
            reply_to: None,
        }],
        current_step: 1,
        wake_at: None,
    }
}

/// A run that waits `wait` before posting to `demo`.
fn waiting(revision: i64, item: &str, fire_at: Millis, wait: Millis) -> NewRun {
    NewRun {
        key: ItemKey::new("drill", item),
        fire_at,
        revision,
        state: RunState::Waiting,
        reason: None,
        steps: vec![
            StepSpec::Wait {
                seconds: wait / 1000,
            },
            StepSpec::Post {
                to: vec!["demo".into()],
                text: format!("{item} after the wait"),
                media: vec![],
                reply_to: None,
            },
        ],
        current_step: 0,
        wake_at: Some(fire_at + wait),
        outbox: vec![],
    }
}

fn missed(revision: i64, item: &str, fire_at: Millis) -> NewRun {
    NewRun {
        state: RunState::Missed,
        reason: Some("crier was not running at its time; `missed: skip`".into()),
        current_step: 0,
        outbox: vec![],
        ..posting(revision, "news", item, fire_at, &["demo"])
    }
}

fn commit(store: &dyn Store, now: Millis, runs: Vec<NewRun>) -> Vec<i64> {
    store
        .commit(&Batch {
            now,
            runs,
            cursors: vec![],
            approvals: vec![],
            ..Batch::default()
        })
        .unwrap()
}

fn revision(store: &dyn Store) -> i64 {
    store.record_revision("rev", T - MINUTE).unwrap()
}

fn all(store: &dyn Store) -> Vec<crier::store::RunView> {
    store.history(&HistoryFilter::default()).unwrap()
}

fn sent(remote_id: &str) -> OutboxOutcome {
    OutboxOutcome::Sent {
        remote_id: remote_id.into(),
    }
}

fn revisions_are_numbered_once_per_digest(store: &dyn Store) {
    assert_eq!(store.record_revision("a", T).unwrap(), 1);
    assert_eq!(store.record_revision("b", T).unwrap(), 2);
    assert_eq!(store.record_revision("a", T + 1).unwrap(), 1);
    assert_eq!(store.record_revision("c", T).unwrap(), 3);
}

fn last_alive_is_the_latest_commit(store: &dyn Store) {
    assert_eq!(store.last_alive().unwrap(), None);
    store
        .commit(&Batch {
            now: T,
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.last_alive().unwrap(), Some(T));
    store
        .commit(&Batch {
            now: T + 5,
            ..Batch::default()
        })
        .unwrap();
    // An older commit (a rehearsal batch, a slow clock) never moves it back.
    store
        .commit(&Batch {
            now: T - 5,
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.last_alive().unwrap(), Some(T + 5));
}

fn a_batch_commits_runs_steps_and_sends(store: &dyn Store) {
    let rev = revision(store);
    let ids = commit(
        store,
        T,
        vec![
            posting(rev, "sale", "teaser", T, &["demo", "other"]),
            missed(rev, "hourly", T - 60 * MINUTE),
            NewRun {
                state: RunState::Skipped,
                reason: Some("`when` was false".into()),
                steps: vec![],
                current_step: 0,
                outbox: vec![],
                ..posting(rev, "sale", "weekend", T, &[])
            },
            waiting(rev, "wait", T, 10 * MINUTE),
        ],
    );
    assert_eq!(ids, [1, 2, 3, 4]);
    let history = all(store);
    let brief: Vec<_> = history
        .iter()
        .map(|r| {
            (
                r.id,
                r.item.as_str(),
                r.state,
                r.created_at,
                r.updated_at,
                r.revision,
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            (4, "wait", RunState::Waiting, T, T, rev),
            (3, "weekend", RunState::Skipped, T, T, rev),
            (1, "teaser", RunState::Running, T, T, rev),
            (2, "hourly", RunState::Missed, T, T, rev),
        ]
    );
    let steps = |id: i64| {
        history
            .iter()
            .find(|r| r.id == id)
            .unwrap()
            .steps
            .iter()
            .map(|s| (s.index, s.kind.clone(), s.state, s.wake_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(1), [(0, "post".to_string(), StepState::Done, None)]);
    assert_eq!(
        steps(2),
        [(0, "post".to_string(), StepState::Skipped, None)]
    );
    assert_eq!(steps(3), []);
    assert_eq!(
        steps(4),
        [
            (
                0,
                "wait".to_string(),
                StepState::Waiting,
                Some(T + 10 * MINUTE)
            ),
            (1, "post".to_string(), StepState::Pending, None)
        ]
    );
    let teaser = history.iter().find(|r| r.id == 1).unwrap();
    let sends: Vec<_> = teaser
        .outbox
        .iter()
        .map(|o| {
            (
                o.step,
                o.account.as_str(),
                o.state,
                o.attempts,
                o.next_attempt_at,
                o.text.as_str(),
            )
        })
        .collect();
    let text = format!("teaser at {T}");
    assert_eq!(
        sends,
        [
            (0, "demo", OutboxState::Pending, 0, T, text.as_str()),
            (0, "other", OutboxState::Pending, 0, T, text.as_str())
        ]
    );
    assert_eq!(store.next_outbox_due().unwrap(), Some(T));
    assert_eq!(store.next_wake().unwrap(), Some(T + 10 * MINUTE));
    assert_eq!(store.last_alive().unwrap(), Some(T));
}

fn a_fire_is_recorded_once(store: &dyn Store) {
    let rev = revision(store);
    let first = commit(store, T, vec![posting(rev, "news", "hourly", T, &["demo"])]);
    assert_eq!(first, [1]);
    // The same fire again (a restart raced it), twice in one batch, and a new one.
    let again = commit(
        store,
        T + 1,
        vec![
            posting(rev, "news", "hourly", T, &["demo"]),
            posting(rev, "news", "hourly", T + 60 * MINUTE, &["demo"]),
            posting(rev, "news", "hourly", T + 60 * MINUTE, &["other"]),
            posting(rev, "news", "daily", T, &["demo"]),
        ],
    );
    assert_eq!(again, [2, 3]);
    let history = all(store);
    assert_eq!(history.len(), 3);
    let later = history.iter().find(|r| r.id == 2).unwrap();
    assert_eq!(later.outbox.len(), 1);
    assert_eq!(later.outbox[0].account, "demo");
    assert_eq!(history.iter().find(|r| r.id == 1).unwrap().created_at, T);
}

fn cursors_only_move_forward(store: &dyn Store) {
    assert_eq!(store.cursors().unwrap(), []);
    let a = ItemKey::new("news", "hourly");
    let b = ItemKey::new("alpha", "daily");
    store
        .commit(&Batch {
            now: T,
            runs: vec![],
            cursors: vec![(a.clone(), T), (b.clone(), T - 5)],
            approvals: vec![],
            ..Batch::default()
        })
        .unwrap();
    store
        .commit(&Batch {
            now: T,
            runs: vec![],
            cursors: vec![(a.clone(), T - 100), (b.clone(), T + 5)],
            approvals: vec![],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.cursors().unwrap(), [(b, T + 5), (a, T)]);
}

fn a_sent_send_settles_its_run(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "sale", "teaser", T, &["demo", "other"])],
    );
    let claimed = store.claim(T, 10, None).unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|r| (
                r.id,
                r.run_id,
                r.step,
                r.account.as_str(),
                r.attempts,
                r.check_first
            ))
            .collect::<Vec<_>>(),
        [(1, 1, 0, "demo", 1, false), (2, 1, 0, "other", 1, false)]
    );
    assert_eq!(
        claimed[0].post,
        post(
            &ItemKey::new("sale", "teaser"),
            T,
            0,
            "demo",
            &format!("teaser at {T}")
        )
    );
    store.finish(&[(1, sent("r-1"))], T + 1).unwrap();
    let run = &all(store)[0];
    assert_eq!(run.state, RunState::Running, "one send still in flight");
    assert_eq!(run.outbox[1].state, OutboxState::Sending);
    store.finish(&[(2, sent("r-2"))], T + 2).unwrap();
    let run = &all(store)[0];
    assert_eq!(
        (run.state, run.reason.as_deref(), run.updated_at),
        (RunState::Succeeded, None, T + 2)
    );
    assert_eq!(
        run.outbox
            .iter()
            .map(|o| (o.state, o.remote_id.as_deref(), o.attempts))
            .collect::<Vec<_>>(),
        [
            (OutboxState::Sent, Some("r-1"), 1),
            (OutboxState::Sent, Some("r-2"), 1)
        ]
    );
    assert_eq!(store.next_outbox_due().unwrap(), None);
    // A note such as "triggered by hand" stays on a run that succeeds.
    commit(
        store,
        T,
        vec![NewRun {
            reason: Some("triggered by hand".into()),
            ..posting(rev, "sale", "launch", T, &["demo"])
        }],
    );
    let id = store.claim(T, 10, None).unwrap()[0].id;
    store.finish(&[(id, sent("r-3"))], T + 3).unwrap();
    let launch = all(store).into_iter().find(|r| r.item == "launch").unwrap();
    assert_eq!(
        (launch.state, launch.reason.as_deref()),
        (RunState::Succeeded, Some("triggered by hand"))
    );
}

fn a_retry_comes_back_when_due_with_one_attempt_more(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "sale", "teaser", T, &["demo"])]);
    let id = store.claim(T, 10, None).unwrap()[0].id;
    let retry = OutboxOutcome::Retry {
        at: T + 30_000,
        error: "503: try later".into(),
        check_first: true,
    };
    store.finish(&[(id, retry)], T + 1).unwrap();
    let run = &all(store)[0];
    assert_eq!(run.state, RunState::Running);
    let send = &run.outbox[0];
    assert_eq!(
        (
            send.state,
            send.attempts,
            send.next_attempt_at,
            send.error.as_deref()
        ),
        (OutboxState::Pending, 1, T + 30_000, Some("503: try later"))
    );
    assert_eq!(store.next_outbox_due().unwrap(), Some(T + 30_000));
    assert!(store.claim(T + 29_999, 10, None).unwrap().is_empty());
    let again = store.claim(T + 30_000, 10, None).unwrap();
    assert_eq!(
        (again[0].id, again[0].attempts, again[0].check_first),
        (id, 2, true)
    );
    store.finish(&[(id, sent("r-1"))], T + 30_001).unwrap();
    let run = &all(store)[0];
    // A success clears the error and the check; the attempts stay counted.
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(
        (run.outbox[0].attempts, run.outbox[0].error.as_deref()),
        (2, None)
    );
}

fn a_failed_send_fails_its_run_with_the_first_failure(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "sale", "teaser", T, &["a", "b", "c"])],
    );
    let claimed = store.claim(T, 10, None).unwrap();
    let failed = |error: &str| OutboxOutcome::Failed {
        error: error.into(),
    };
    // Finished in another order than their ids: the first failure by id is the reason.
    store
        .finish(
            &[
                (claimed[2].id, failed("401: bad token")),
                (claimed[0].id, sent("r-a")),
                (claimed[1].id, failed("422: too long")),
            ],
            T + 1,
        )
        .unwrap();
    let run = &all(store)[0];
    assert_eq!(
        (run.state, run.reason.as_deref()),
        (RunState::Failed, Some("b: 422: too long"))
    );
    assert_eq!(
        run.outbox.iter().map(|o| o.state).collect::<Vec<_>>(),
        [OutboxState::Sent, OutboxState::Failed, OutboxState::Failed]
    );
}

fn claims_are_due_ordered_limited_and_never_twice(store: &dyn Store) {
    let rev = revision(store);
    // Ids 1..=4 with due times out of id order.
    let mut late = posting(rev, "news", "a", T, &["demo"]);
    late.outbox[0].due = T + 2;
    let mut early = posting(rev, "news", "b", T, &["demo"]);
    early.outbox[0].due = T - 2;
    let mut later = posting(rev, "news", "d", T, &["demo"]);
    later.outbox[0].due = T + 10;
    commit(
        store,
        T,
        vec![late, early, posting(rev, "news", "c", T, &["demo"]), later],
    );
    let first: Vec<i64> = store
        .claim(T + 5, 2, None)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(first, [2, 3], "the two due soonest, returned by id");
    let second: Vec<i64> = store
        .claim(T + 5, 10, None)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        second,
        [1],
        "never a row claimed already, never one not yet due"
    );
    assert!(store.claim(T + 5, 10, None).unwrap().is_empty());
    assert!(store.claim(T + 10, 0, None).unwrap().is_empty());
    assert_eq!(store.next_outbox_due().unwrap(), Some(T + 10));
    let status = store.status().unwrap();
    assert_eq!(
        status.outbox,
        [("pending".to_string(), 1), ("sending".to_string(), 3)]
    );
}

fn claims_can_be_limited_to_one_run(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T, &["x", "y"]),
            posting(rev, "news", "b", T, &["x", "y"]),
        ],
    );
    let ids: Vec<i64> = store
        .claim(T, 10, Some(2))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [3, 4]);
    assert!(store.claim(T, 10, Some(2)).unwrap().is_empty());
    assert!(store.claim(T, 10, Some(99)).unwrap().is_empty());
    assert_eq!(store.claim(T, 10, None).unwrap().len(), 2);
}

fn sends_left_sending_are_recovered_in_doubt(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "news", "a", T, &["x", "y", "z", "w"])],
    );
    let claimed = store
        .claim_outbox(&claim_by(OWNER, T, T + 50, None, &[]), 3)
        .unwrap();
    assert_eq!(claimed.len(), 3);
    // Two requests leave; the third never starts; then the process stops.
    assert_eq!(store.mark_in_flight(OWNER, &[1, 2], T + 1).unwrap(), [1, 2]);
    // Within the lease the claims are still the stopped process's.
    assert_eq!(
        store.recover_in_doubt(T + 49).unwrap(),
        Recovered::default()
    );
    assert_eq!(
        store.recover_in_doubt(T + 100).unwrap(),
        Recovered {
            in_doubt: 2,
            unstarted: 1
        }
    );
    assert_eq!(
        store.recover_in_doubt(T + 100).unwrap(),
        Recovered::default()
    );
    let run = &all(store)[0];
    assert_eq!(
        run.outbox
            .iter()
            .map(|o| (o.state, o.attempts, o.next_attempt_at))
            .collect::<Vec<_>>(),
        [
            (OutboxState::Pending, 1, T + 100),
            (OutboxState::Pending, 1, T + 100),
            (OutboxState::Pending, 0, T + 100),
            (OutboxState::Pending, 0, T)
        ]
    );
    let claimed = store.claim(T + 100, 10, None).unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|r| (r.id, r.attempts, r.check_first, r.first_attempt_at))
            .collect::<Vec<_>>(),
        [
            (1, 2, true, Some(T + 1)),
            (2, 2, true, Some(T + 1)),
            (3, 1, false, None),
            (4, 1, false, None)
        ]
    );
    // The first attempt's time stays the first one's.
    store.mark_in_flight(OWNER, &[1], T + 200).unwrap();
    store
        .finish(
            &[(
                1,
                OutboxOutcome::Retry {
                    at: T + 300,
                    error: "timeout".into(),
                    check_first: true,
                },
            )],
            T + 250,
        )
        .unwrap();
    assert_eq!(
        store.claim(T + 300, 10, None).unwrap()[0].first_attempt_at,
        Some(T + 1)
    );
}

/// A connector's handle (a media container's id) is kept on the send by the dispatcher
/// holding its claim, and survives the send being taken back in doubt and claimed again.
fn a_sends_handle_is_kept_by_its_claimant_across_a_take_back(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "news", "a", T, &["x"])]);
    assert_eq!(store.send_handle(1).unwrap(), None);
    let crashed = "dispatcher-crashed";
    store
        .claim_outbox(&claim_by(crashed, T, T + 10, None, &[]), 10)
        .unwrap();
    store.mark_in_flight(crashed, &[1], T + 1).unwrap();
    assert!(
        !store
            .keep_send_handle(OWNER, 1, Some("17900000000000001"), T + 1)
            .unwrap(),
        "not its claim"
    );
    assert!(
        store
            .keep_send_handle(crashed, 1, Some("17900000000000001"), T + 2)
            .unwrap()
    );
    assert_eq!(
        store.send_handle(1).unwrap().as_deref(),
        Some("17900000000000001")
    );
    assert_eq!(store.recover_in_doubt(T + 20).unwrap().in_doubt, 1);
    assert!(
        !store.keep_send_handle(crashed, 1, None, T + 21).unwrap(),
        "taken back: the crashed claim cannot change it"
    );
    let again = store.claim(T + 30, 10, None).unwrap();
    assert!(again[0].check_first);
    assert_eq!(
        store.send_handle(1).unwrap().as_deref(),
        Some("17900000000000001")
    );
    assert!(store.keep_send_handle(OWNER, 1, None, T + 31).unwrap());
    assert_eq!(store.send_handle(1).unwrap(), None);
    assert_eq!(store.send_handle(99).unwrap(), None, "an unknown send");
}

fn only_the_claimant_marks_renews_and_finishes_its_sends(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "news", "a", T, &["x", "y"])]);
    let stalled = "dispatcher-stalled";
    let claimed = store
        .claim_outbox(&claim_by(stalled, T, T + 10, None, &[]), 10)
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(store.mark_in_flight(stalled, &[1], T + 1).unwrap(), [1]);
    // Another dispatcher can neither mark nor finish nor renew them.
    assert!(store.mark_in_flight(OWNER, &[2], T + 2).unwrap().is_empty());
    assert_eq!(
        store.renew_claims(OWNER, &[1, 2], T + 99, T + 2).unwrap(),
        0
    );
    assert_eq!(
        store.finish(&[(1, sent("r-other"))], T + 2).unwrap(),
        [1],
        "not its claim: left alone"
    );
    // The claimant renews send 1 only: send 2's lease passes and it is taken back.
    assert_eq!(store.renew_claims(stalled, &[1], T + 30, T + 5).unwrap(), 1);
    assert_eq!(
        store.recover_in_doubt(T + 20).unwrap(),
        Recovered {
            in_doubt: 0,
            unstarted: 1
        }
    );
    // Send 2 is claimed again by the live dispatcher; the stalled one's late result for it
    // is not recorded, and it cannot mark it any more.
    assert_eq!(store.claim(T + 20, 10, None).unwrap()[0].id, 2);
    assert!(
        store
            .mark_in_flight(stalled, &[2], T + 21)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .finish_outbox(stalled, &[(2, sent("r-late")), (1, sent("r-1"))], T + 21)
            .unwrap(),
        [2]
    );
    store.mark_in_flight(OWNER, &[2], T + 22).unwrap();
    store.finish(&[(2, sent("r-2"))], T + 23).unwrap();
    let run = &all(store)[0];
    assert_eq!(
        run.outbox
            .iter()
            .map(|o| (o.state, o.remote_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            (OutboxState::Sent, Some("r-1")),
            (OutboxState::Sent, Some("r-2"))
        ]
    );
    assert_eq!(run.state, RunState::Succeeded);
}

fn a_service_takes_back_a_stopped_services_claims_at_once(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "news", "a", T, &["x", "y", "z"])],
    );
    let mine = store
        .claim_outbox(&claim_by("run:41-a", T, T + LONG_LEASE, None, &[]), 2)
        .unwrap();
    store.mark_in_flight("run:41-a", &[mine[0].id], T).unwrap();
    let trigger = store
        .claim_outbox(&claim_by("7-b", T, T + LONG_LEASE, None, &[]), 1)
        .unwrap();
    // Leases far ahead: only the stopped service's own claims come back, not another's.
    assert_eq!(
        store.recover_claims_of("run:", T + 1).unwrap(),
        Recovered {
            in_doubt: 1,
            unstarted: 1
        }
    );
    assert_eq!(
        store
            .claim(T + 1, 10, None)
            .unwrap()
            .iter()
            .map(|r| (r.id, r.check_first))
            .collect::<Vec<_>>(),
        [(mine[0].id, true), (mine[1].id, false)]
    );
    assert_eq!(
        store
            .finish_outbox("7-b", &[(trigger[0].id, sent("r"))], T + 2)
            .unwrap(),
        Vec::<i64>::new()
    );
}

fn a_claim_leaves_the_accounts_it_is_told_to(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "news", "a", T, &["busy", "free", "other"])],
    );
    let busy = vec!["busy".to_string(), "other".to_string()];
    let claimed = store
        .claim_outbox(&claim_by(OWNER, T, T + LONG_LEASE, None, &busy), 10)
        .unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|r| r.account.as_str())
            .collect::<Vec<_>>(),
        ["free"]
    );
    assert_eq!(store.claim(T, 10, None).unwrap().len(), 2);
}

fn a_repeated_idempotency_key_is_ignored(store: &dyn Store) {
    let rev = revision(store);
    let mut run = posting(rev, "news", "a", T, &["x"]);
    let twice = run.outbox[0].clone();
    run.outbox.push(twice);
    commit(store, T, vec![run]);
    let other = posting(rev, "news", "b", T, &["y"]);
    commit(store, T, vec![other]);
    let history = all(store);
    assert_eq!(
        history.iter().map(|r| r.outbox.len()).collect::<Vec<_>>(),
        [1, 1]
    );
    // The ignored row took no id.
    assert_eq!(
        store
            .claim(T, 10, None)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

fn the_latest_remote_id_is_the_latest_fire_that_sent(store: &dyn Store) {
    let rev = revision(store);
    let key = ItemKey::new("news", "a");
    assert_eq!(store.latest_remote_id(&key, "x").unwrap(), None);
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T + 60 * MINUTE, &["x", "y"]),
            posting(rev, "news", "a", T, &["x"]),
            posting(rev, "news", "a", T + 120 * MINUTE, &["x"]),
            posting(rev, "news", "b", T + 180 * MINUTE, &["x"]),
        ],
    );
    let claimed = store.claim(T + 60 * MINUTE, 10, None).unwrap();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
    store
        .finish(
            &[(3, sent("early")), (1, sent("hour-x")), (2, sent("hour-y"))],
            T + 60 * MINUTE,
        )
        .unwrap();
    // The 12:00 fire is still pending: the latest that sent is 11:00.
    assert_eq!(
        store.latest_remote_id(&key, "x").unwrap().as_deref(),
        Some("hour-x")
    );
    assert_eq!(
        store.latest_remote_id(&key, "y").unwrap().as_deref(),
        Some("hour-y")
    );
    assert_eq!(store.latest_remote_id(&key, "z").unwrap(), None);
    assert_eq!(
        store
            .latest_remote_id(&ItemKey::new("news", "b"), "x")
            .unwrap(),
        None
    );
    let claimed = store.claim(T + 180 * MINUTE, 10, None).unwrap();
    store
        .finish(
            &[(claimed[0].id, sent("noon")), (claimed[1].id, sent("b"))],
            T + 180 * MINUTE,
        )
        .unwrap();
    assert_eq!(
        store.latest_remote_id(&key, "x").unwrap().as_deref(),
        Some("noon")
    );
}

fn waiting_steps_wake_and_runs_advance(store: &dyn Store) {
    let rev = revision(store);
    let ids = commit(
        store,
        T,
        vec![
            waiting(rev, "later", T, 20 * MINUTE),
            waiting(rev, "sooner", T, 10 * MINUTE),
        ],
    );
    assert_eq!(ids, [1, 2]);
    assert_eq!(store.next_wake().unwrap(), Some(T + 10 * MINUTE));
    assert!(
        store
            .waiting_steps_due(T + 10 * MINUTE - 1)
            .unwrap()
            .is_empty()
    );
    let due = store.waiting_steps_due(T + 20 * MINUTE).unwrap();
    assert_eq!(
        due.iter().map(|w| (w.run_id, w.step)).collect::<Vec<_>>(),
        [(2, 0), (1, 0)]
    );
    assert_eq!(due[0].key, ItemKey::new("drill", "sooner"));
    assert_eq!((due[0].fire_at, due[0].steps.len()), (T, 2));
    let now = T + 10 * MINUTE;
    let key = ItemKey::new("drill", "sooner");
    store
        .advance_run(
            &RunAdvance {
                run_id: 2,
                step: 0,
                outcome: StepState::Done,
                reason: None,
                current_step: 2,
                passed: vec![(1, StepState::Done)],
                wake_at: None,
                outbox: vec![NewOutbox {
                    step: 1,
                    account: "demo".into(),
                    post: post(&key, T, 1, "demo", "sooner after the wait"),
                    due: now,
                }],
                finish: None,
            },
            now,
        )
        .unwrap();
    assert_eq!(store.next_wake().unwrap(), Some(T + 20 * MINUTE));
    let run = all(store).into_iter().find(|r| r.id == 2).unwrap();
    assert_eq!((run.state, run.updated_at), (RunState::Running, now));
    assert_eq!(
        run.steps
            .iter()
            .map(|s| (s.state, s.wake_at))
            .collect::<Vec<_>>(),
        [(StepState::Done, None), (StepState::Done, None)]
    );
    assert_eq!(
        (run.outbox[0].text.as_str(), run.outbox[0].next_attempt_at),
        ("sooner after the wait", now)
    );
    let claimed = store.claim(now, 10, None).unwrap();
    store.finish(&[(claimed[0].id, sent("r"))], now).unwrap();
    assert_eq!(
        all(store).into_iter().find(|r| r.id == 2).unwrap().state,
        RunState::Succeeded
    );
    // A run that moves on to another wait, and one that ends with nothing to send.
    store
        .advance_run(
            &RunAdvance {
                run_id: 1,
                step: 0,
                outcome: StepState::Done,
                reason: None,
                current_step: 1,
                passed: vec![],
                wake_at: Some(T + 90 * MINUTE),
                outbox: vec![],
                finish: None,
            },
            T + 20 * MINUTE,
        )
        .unwrap();
    let run = all(store).into_iter().find(|r| r.id == 1).unwrap();
    assert_eq!(run.state, RunState::Waiting);
    assert_eq!(
        run.steps
            .iter()
            .map(|s| (s.state, s.wake_at))
            .collect::<Vec<_>>(),
        [
            (StepState::Done, None),
            (StepState::Waiting, Some(T + 90 * MINUTE))
        ]
    );
    assert_eq!(store.next_wake().unwrap(), Some(T + 90 * MINUTE));
    store
        .advance_run(
            &RunAdvance {
                run_id: 1,
                step: 1,
                outcome: StepState::Done,
                reason: Some("no decision before the timeout; proceeding".into()),
                current_step: 2,
                passed: vec![],
                wake_at: None,
                outbox: vec![],
                finish: None,
            },
            T + 90 * MINUTE,
        )
        .unwrap();
    let run = all(store).into_iter().find(|r| r.id == 1).unwrap();
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(
        run.steps[1].reason.as_deref(),
        Some("no decision before the timeout; proceeding")
    );
    assert_eq!(store.next_wake().unwrap(), None);
}

fn an_advance_that_lost_a_race_changes_nothing(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![waiting(rev, "w", T, MINUTE)]);
    let advance = RunAdvance {
        run_id: 1,
        step: 0,
        outcome: StepState::Done,
        reason: None,
        current_step: 2,
        passed: vec![(1, StepState::Done)],
        wake_at: None,
        outbox: vec![],
        finish: None,
    };
    store.advance_run(&advance, T + MINUTE).unwrap();
    let before = all(store);
    let late = RunAdvance {
        outcome: StepState::Failed,
        finish: Some((RunState::Skipped, "too late".into())),
        ..advance.clone()
    };
    store.advance_run(&late, T + 2 * MINUTE).unwrap();
    store
        .advance_run(
            &RunAdvance {
                run_id: 99,
                ..advance
            },
            T,
        )
        .unwrap();
    assert_eq!(all(store), before);
}

fn an_aborted_run_ends_with_its_reason(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![waiting(rev, "approve", T, MINUTE)]);
    let reason = "no decision before the timeout (on_timeout: abort)".to_string();
    store
        .advance_run(
            &RunAdvance {
                run_id: 1,
                step: 0,
                outcome: StepState::Failed,
                reason: Some(reason.clone()),
                current_step: 2,
                passed: vec![],
                wake_at: None,
                outbox: vec![],
                finish: Some((RunState::Skipped, reason.clone())),
            },
            T + MINUTE,
        )
        .unwrap();
    let run = &all(store)[0];
    assert_eq!(
        (run.state, run.reason.as_deref()),
        (RunState::Skipped, Some(reason.as_str()))
    );
    assert_eq!(
        run.steps
            .iter()
            .map(|s| (s.state, s.reason.clone()))
            .collect::<Vec<_>>(),
        [
            (StepState::Failed, Some(reason.clone())),
            (StepState::Pending, None)
        ]
    );
    assert!(
        store
            .waiting_steps_due(T + 100 * MINUTE)
            .unwrap()
            .is_empty()
    );
}

fn pages_of_runs_start_at_their_cursor_and_filter(store: &dyn Store) {
    use crier::store::RunsPageFilter;
    let rev = revision(store);
    let ids = commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T, &["x"]),
            posting(rev, "sale", "b", T + MINUTE, &["y"]),
            posting(rev, "news", "c", T, &["x", "y"]),
            posting(rev, "news", "d", T - MINUTE, &["y"]),
            missed(rev, "e", T - 2 * MINUTE),
        ],
    );
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let page = |filter: RunsPageFilter| -> Vec<i64> {
        store
            .runs_page(&filter)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    let all = RunsPageFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(page(all.clone()), [2, 3, 1, 4, 5]);
    // Pages of two, each from the last run of the one before (ties on the time by id).
    let first = RunsPageFilter {
        limit: 2,
        ..all.clone()
    };
    assert_eq!(page(first.clone()), [2, 3]);
    let second = RunsPageFilter {
        before: Some((T, 3)),
        ..first.clone()
    };
    assert_eq!(page(second), [1, 4]);
    let third = RunsPageFilter {
        before: Some((T - MINUTE, 4)),
        ..first.clone()
    };
    assert_eq!(page(third), [5]);
    assert!(
        page(RunsPageFilter {
            before: Some((T - 2 * MINUTE, 5)),
            ..first
        })
        .is_empty()
    );
    let news = RunsPageFilter {
        playbook: Some("news".into()),
        ..all.clone()
    };
    assert_eq!(page(news.clone()), [3, 1, 4, 5]);
    assert_eq!(
        page(RunsPageFilter {
            before: Some((T, 3)),
            ..news.clone()
        }),
        [1, 4, 5]
    );
    assert_eq!(
        page(RunsPageFilter {
            since: Some(T),
            ..news
        }),
        [3, 1]
    );
    assert_eq!(
        page(RunsPageFilter {
            state: Some(RunState::Missed),
            ..all.clone()
        }),
        [5]
    );
    assert_eq!(
        page(RunsPageFilter {
            account: Some("y".into()),
            ..all.clone()
        }),
        [2, 3, 4]
    );
    assert_eq!(
        page(RunsPageFilter {
            account: Some("x".into()),
            send_state: Some(OutboxState::Pending),
            ..all.clone()
        }),
        [3, 1]
    );
    assert!(
        page(RunsPageFilter {
            playbook: Some("none".into()),
            ..all
        })
        .is_empty()
    );
    let run = store.run_view(3).unwrap().expect("run 3");
    assert_eq!(
        (run.playbook.as_str(), run.item.as_str(), run.outbox.len()),
        ("news", "c", 2)
    );
    assert!(store.run_view(99).unwrap().is_none());
    assert!(store.run_view(0).unwrap().is_none());
}

fn history_is_newest_first_and_filters(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T, &["x"]),
            posting(rev, "sale", "b", T + MINUTE, &["x"]),
            posting(rev, "news", "c", T, &["x"]),
            posting(rev, "news", "d", T - MINUTE, &["x"]),
        ],
    );
    let ids = |filter: HistoryFilter| -> Vec<i64> {
        store
            .history(&filter)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(HistoryFilter::default()), [2, 3, 1, 4]);
    assert_eq!(
        ids(HistoryFilter {
            playbook: Some("news".into()),
            ..Default::default()
        }),
        [3, 1, 4]
    );
    assert_eq!(
        ids(HistoryFilter {
            since: Some(T),
            ..Default::default()
        }),
        [2, 3, 1]
    );
    assert_eq!(
        ids(HistoryFilter {
            limit: Some(2),
            ..Default::default()
        }),
        [2, 3]
    );
    assert!(
        ids(HistoryFilter {
            limit: Some(0),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        ids(HistoryFilter {
            playbook: Some("news".into()),
            since: Some(T),
            limit: Some(1)
        }),
        [3]
    );
    assert!(
        ids(HistoryFilter {
            playbook: Some("none".into()),
            ..Default::default()
        })
        .is_empty()
    );
    // Pages: from a cursor (fire time, id) on, with a state, a chunk at a time.
    let page = |playbook: Option<&str>, state, before, limit| -> Vec<i64> {
        let filter = RunsPageFilter {
            playbook: playbook.map(str::to_owned),
            state,
            before,
            limit,
            ..Default::default()
        };
        store
            .runs_page(&filter)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(page(None, None, None, 10), [2, 3, 1, 4]);
    assert_eq!(page(None, None, None, 2), [2, 3]);
    assert_eq!(page(None, None, Some((T, 3)), 2), [1, 4]);
    assert_eq!(page(None, None, Some((T, 1)), 10), [4]);
    assert_eq!(
        page(Some("news"), None, Some((T + MINUTE, 2)), 10),
        [3, 1, 4]
    );
    assert_eq!(page(None, Some(RunState::Running), None, 10), [2, 3, 1, 4]);
    assert!(page(None, Some(RunState::Failed), None, 10).is_empty());
}

fn status_counts_and_lists_runs_in_flight(store: &dyn Store) {
    let rev = revision(store);
    assert_eq!(store.status().unwrap(), Default::default());
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T + MINUTE, &["x"]),
            missed(rev, "b", T - MINUTE),
            posting(rev, "news", "c", T, &["x", "y"]),
            waiting(rev, "d", T + 2 * MINUTE, MINUTE),
            posting(rev, "news", "e", T, &[]),
        ],
    );
    let claimed = store.claim(T, 1, None).unwrap();
    store.finish(&[(claimed[0].id, sent("r"))], T).unwrap();
    let status = store.status().unwrap();
    let pairs = |v: &[(&str, i64)]| {
        v.iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status.runs,
        pairs(&[
            ("missed", 1),
            ("running", 2),
            ("succeeded", 1),
            ("waiting", 1)
        ])
    );
    assert_eq!(status.outbox, pairs(&[("pending", 2), ("sent", 1)]));
    assert_eq!(
        status.in_flight.iter().map(|r| r.id).collect::<Vec<_>>(),
        [3, 1, 4]
    );
    assert_eq!(status.in_flight[0].outbox.len(), 2);
    assert_eq!(status.in_flight[2].steps.len(), 2);
}

fn timeline_lists_every_run_and_send_oldest_first(store: &dyn Store) {
    let rev = revision(store);
    assert!(store.timeline().unwrap().is_empty());
    let mut two_steps = posting(rev, "news", "c", T, &["y", "x"]);
    // A notify step before the post step, committed after it: steps order the sends.
    let key = two_steps.key.clone();
    two_steps.steps.insert(
        0,
        StepSpec::Notify {
            accounts: vec!["ops".into()],
            text: "heads up".into(),
        },
    );
    for send in &mut two_steps.outbox {
        send.step = 1;
    }
    two_steps.current_step = 2;
    two_steps.outbox.push(NewOutbox {
        step: 0,
        account: "ops".into(),
        post: post(&key, T, 0, "ops", "heads up"),
        due: T,
    });
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T + MINUTE, &["x"]),
            missed(rev, "b", T - MINUTE),
            two_steps,
        ],
    );
    // Run 1 (`a`, due later) has send 1; run 3 (`c`) has sends 2 (y), 3 (x) and 4 (ops).
    let claimed = store.claim(T, 10, None).unwrap();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3, 4]);
    let failed = OutboxOutcome::Failed {
        error: "401: bad token".into(),
    };
    store
        .finish(&[(4, sent("r-ops")), (2, failed), (3, sent("r-x"))], T)
        .unwrap();
    let rows: Vec<_> = store
        .timeline()
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.fire_at,
                r.item,
                r.state,
                r.reason,
                r.send.map(|s| (s.account, s.state, s.text, s.error)),
            )
        })
        .collect();
    let skip = Some("crier was not running at its time; `missed: skip`".to_string());
    let c_text = format!("c at {T}");
    let c_reason = Some("y: 401: bad token".to_string());
    assert_eq!(
        rows,
        [
            (T - MINUTE, "b".to_string(), RunState::Missed, skip, None),
            (
                T,
                "c".into(),
                RunState::Failed,
                c_reason.clone(),
                Some((
                    "ops".to_string(),
                    OutboxState::Sent,
                    "heads up".to_string(),
                    None
                ))
            ),
            (
                T,
                "c".into(),
                RunState::Failed,
                c_reason.clone(),
                Some((
                    "y".to_string(),
                    OutboxState::Failed,
                    c_text.clone(),
                    Some("401: bad token".to_string())
                ))
            ),
            (
                T,
                "c".into(),
                RunState::Failed,
                c_reason,
                Some(("x".to_string(), OutboxState::Sent, c_text, None))
            ),
            (
                T + MINUTE,
                "a".into(),
                RunState::Running,
                None,
                Some((
                    "x".to_string(),
                    OutboxState::Pending,
                    format!("a at {}", T + MINUTE),
                    None
                ))
            ),
        ]
    );
}

fn a_refused_commit_writes_nothing(store: &dyn Store) {
    let rev = revision(store);
    let error = store
        .commit(&Batch {
            now: T,
            runs: vec![
                posting(rev, "news", "a", T, &["x"]),
                posting(rev + 1, "news", "b", T, &["x"]),
            ],
            cursors: vec![(ItemKey::new("news", "a"), T)],
            approvals: vec![],
            ..Batch::default()
        })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the store failed: FOREIGN KEY constraint failed"
    );
    assert!(all(store).is_empty());
    assert_eq!(store.cursors().unwrap(), []);
    assert_eq!(store.last_alive().unwrap(), None);
    assert_eq!(store.next_outbox_due().unwrap(), None);
    // Ids are not used up by the refused batch.
    assert_eq!(
        commit(store, T, vec![posting(rev, "news", "c", T, &["x"])]),
        [1]
    );
    assert_eq!(store.claim(T, 10, None).unwrap()[0].id, 1);
}

fn finishing_an_unknown_send_changes_nothing(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "news", "a", T, &["x"])]);
    store.claim(T, 10, None).unwrap();
    let before = all(store);
    let failed = OutboxOutcome::Failed { error: "x".into() };
    assert_eq!(
        store.finish(&[(7, sent("r")), (8, failed)], T + 1).unwrap(),
        [7, 8]
    );
    assert_eq!(all(store), before);
    assert!(store.finish(&[], T + 1).unwrap().is_empty());
}

/// SQLite call by call and SQLite in groups (committed every few calls, as a rehearsal
/// commits each virtual tick), driven by one long seeded sequence of calls, as an engine and
/// a dispatcher would make them (and some they would not): every answer, and every view
/// after each call, must be the same.
#[test]
fn grouped_calls_answer_every_call_alike() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    for seed in 0..5 {
        let sqlite = SqliteStore::in_memory().unwrap();
        let grouped = grouped();
        let stores: [&dyn Store; 2] = [&sqlite, &grouped];
        let mut rng = StdRng::seed_from_u64(seed);
        let mut now = T;
        let accounts = ["x", "y", "z"];
        let items = ["a", "b", "c", "d"];
        for step in 0..300 {
            if step % 7 == 0 {
                grouped.commit_group().unwrap();
                grouped.begin_group().unwrap();
            }
            now += rng.gen_range(0..5 * MINUTE);
            let call = rng.gen_range(0..100);
            let answers: Vec<String> = stores
                .iter()
                .map(|store| {
                    let mut rng = StdRng::seed_from_u64(seed * 1_000_000 + step);
                    let answer = match call {
                        0..=24 => {
                            let revision = store
                                .record_revision(["r1", "r2"][rng.gen_range(0..2)], now)
                                .unwrap();
                            let runs = (0..rng.gen_range(0..4))
                                .map(|_| {
                                    let item = items[rng.gen_range(0..items.len())];
                                    // Few distinct fire times, so some fires repeat.
                                    let fire_at = now - rng.gen_range(0..4) * MINUTE;
                                    let to: Vec<&str> = accounts[..rng.gen_range(0..=3)].to_vec();
                                    let revision = if rng.gen_bool(0.03) { 99 } else { revision };
                                    match rng.gen_range(0..4) {
                                        0 => missed(revision, item, fire_at),
                                        1 => waiting(
                                            revision,
                                            item,
                                            fire_at,
                                            rng.gen_range(0..30) * MINUTE,
                                        ),
                                        _ => {
                                            let mut run =
                                                posting(revision, "news", item, fire_at, &to);
                                            for send in &mut run.outbox {
                                                send.due += rng.gen_range(-2..3) * MINUTE;
                                            }
                                            run
                                        }
                                    }
                                })
                                .collect();
                            let cursors = (0..rng.gen_range(0..3))
                                .map(|_| {
                                    (
                                        ItemKey::new("news", items[rng.gen_range(0..items.len())]),
                                        now - rng.gen_range(0..10) * MINUTE,
                                    )
                                })
                                .collect();
                            format!(
                                "{:?}",
                                store
                                    .commit(&Batch {
                                        now,
                                        runs,
                                        cursors,
                                        approvals: vec![],
                                        ..Batch::default()
                                    })
                                    .map_err(|e| e.to_string())
                            )
                        }
                        25..=44 => {
                            let run = rng.gen_bool(0.2).then(|| rng.gen_range(1..20));
                            format!(
                                "{:?}",
                                store
                                    .claim_outbox(
                                        &claim_by(
                                            ["a", "b"][rng.gen_range(0..2)],
                                            now,
                                            now + rng.gen_range(0..30) * MINUTE,
                                            run,
                                            &[],
                                        ),
                                        rng.gen_range(0..6)
                                    )
                                    .unwrap()
                            )
                        }
                        45..=69 => {
                            let outcomes: Vec<_> = (0..rng.gen_range(0..5))
                                .map(|_| {
                                    let id = rng.gen_range(1..40);
                                    let outcome = match rng.gen_range(0..3) {
                                        0 => sent(&format!("r-{id}-{now}")),
                                        1 => OutboxOutcome::Retry {
                                            at: now + rng.gen_range(0..10) * MINUTE,
                                            error: "503".into(),
                                            check_first: rng.gen_bool(0.5),
                                        },
                                        _ => OutboxOutcome::Failed {
                                            error: format!("401 on {id}"),
                                        },
                                    };
                                    (id, outcome)
                                })
                                .collect();
                            format!(
                                "{:?}",
                                store
                                    .finish_outbox(["a", "b"][rng.gen_range(0..2)], &outcomes, now)
                                    .map_err(|e| e.to_string())
                            )
                        }
                        70..=71 => format!("{:?}", store.recover_in_doubt(now).unwrap()),
                        72 => {
                            let id = rng.gen_range(1..40);
                            let handle = rng.gen_bool(0.7).then(|| format!("c-{id}-{now}"));
                            let kept = store
                                .keep_send_handle(
                                    ["a", "b"][rng.gen_range(0..2)],
                                    id,
                                    handle.as_deref(),
                                    now,
                                )
                                .unwrap();
                            format!("{kept} {:?}", store.send_handle(id).unwrap())
                        }
                        73..=74 => {
                            let ids: Vec<i64> = (0..rng.gen_range(0..4))
                                .map(|_| rng.gen_range(1..40))
                                .collect();
                            format!(
                                "{:?}",
                                store
                                    .mark_in_flight(["a", "b"][rng.gen_range(0..2)], &ids, now)
                                    .unwrap()
                            )
                        }
                        75..=89 => {
                            let due = store.waiting_steps_due(now).unwrap();
                            let answer = format!("{due:?}");
                            for waiting in due {
                                let proceed = rng.gen_bool(0.7);
                                let rewait = rng.gen_bool(0.3);
                                let advance = RunAdvance {
                                    run_id: waiting.run_id,
                                    step: waiting.step,
                                    outcome: if proceed {
                                        StepState::Done
                                    } else {
                                        StepState::Failed
                                    },
                                    reason: (!proceed).then(|| "timed out".to_string()),
                                    current_step: if proceed && rewait {
                                        waiting.step + 1
                                    } else {
                                        waiting.steps.len()
                                    },
                                    passed: if proceed && !rewait {
                                        vec![(waiting.step + 1, StepState::Done)]
                                    } else {
                                        vec![]
                                    },
                                    wake_at: (proceed && rewait)
                                        .then(|| now + rng.gen_range(0..10) * MINUTE),
                                    outbox: if proceed && !rewait {
                                        vec![NewOutbox {
                                            step: waiting.step + 1,
                                            account: "x".into(),
                                            post: post(
                                                &waiting.key,
                                                waiting.fire_at,
                                                waiting.step + 1,
                                                "x",
                                                "after",
                                            ),
                                            due: now,
                                        }]
                                    } else {
                                        vec![]
                                    },
                                    finish: (!proceed)
                                        .then(|| (RunState::Skipped, "timed out".to_string())),
                                };
                                store.advance_run(&advance, now).unwrap();
                            }
                            answer
                        }
                        90..=94 => {
                            let key = ItemKey::new("news", items[rng.gen_range(0..items.len())]);
                            format!(
                                "{:?}",
                                store
                                    .latest_remote_id(&key, accounts[rng.gen_range(0..3)])
                                    .unwrap()
                            )
                        }
                        _ => {
                            let filter = HistoryFilter {
                                playbook: rng
                                    .gen_bool(0.5)
                                    .then(|| ["news", "drill"][rng.gen_range(0..2)].to_string()),
                                since: rng
                                    .gen_bool(0.5)
                                    .then(|| now - rng.gen_range(0..60) * MINUTE),
                                limit: rng.gen_bool(0.5).then(|| rng.gen_range(0..10)),
                            };
                            format!("{:?}", store.history(&filter).unwrap())
                        }
                    };
                    let views = format!(
                        "{answer}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
                        store.timeline().unwrap(),
                        store.status().unwrap(),
                        store.cursors().unwrap(),
                        store.last_alive().unwrap(),
                        store.next_outbox_due().unwrap(),
                        store.next_wake().unwrap(),
                        store.history(&HistoryFilter::default()).unwrap(),
                    );
                    views
                })
                .collect();
            assert_eq!(
                answers[0], answers[1],
                "seed {seed}, call {step} ({call}): call by call (left) and grouped (right) differ"
            );
        }
    }
}

fn metrics_snapshots_and_recent_posts(store: &dyn Store) {
    use crier::store::AccountMetrics;
    assert_eq!(store.latest_metrics("x").unwrap(), None);
    let snapshot = |followers| AccountMetrics {
        followers,
        posts: 2,
        likes: 5,
        reposts: 1,
        replies: 3,
    };
    store.record_metrics("x", &snapshot(100), T).unwrap();
    store
        .record_metrics("x", &snapshot(120), T + MINUTE)
        .unwrap();
    store
        .record_metrics("y", &snapshot(7), T + 2 * MINUTE)
        .unwrap();
    // The same instant again replaces that snapshot.
    store
        .record_metrics("x", &snapshot(121), T + MINUTE)
        .unwrap();
    assert_eq!(
        store.latest_metrics("x").unwrap(),
        Some((T + MINUTE, snapshot(121)))
    );
    assert_eq!(
        store.latest_metrics("y").unwrap(),
        Some((T + 2 * MINUTE, snapshot(7)))
    );

    let rev = revision(store);
    commit(
        store,
        T,
        vec![
            posting(rev, "news", "a", T, &["x", "y"]),
            posting(rev, "news", "b", T + MINUTE, &["x"]),
            posting(rev, "news", "c", T + 2 * MINUTE, &["x"]),
        ],
    );
    let claimed = store.claim(T + 2 * MINUTE, 10, None).unwrap();
    assert_eq!(claimed.len(), 4);
    store
        .finish(&[(1, sent("old-x")), (2, sent("old-y"))], T)
        .unwrap();
    store
        .finish(
            &[
                (3, sent("new-x")),
                (
                    4,
                    OutboxOutcome::Failed {
                        error: "refused".into(),
                    },
                ),
            ],
            T + 5 * MINUTE,
        )
        .unwrap();
    // Sent ones only, newest first, since the given time, at most the limit.
    assert_eq!(
        store.recent_remote_ids("x", T, 10).unwrap(),
        ["new-x", "old-x"]
    );
    assert_eq!(store.recent_remote_ids("x", T, 1).unwrap(), ["new-x"]);
    assert_eq!(
        store.recent_remote_ids("x", T + MINUTE, 10).unwrap(),
        ["new-x"]
    );
    assert_eq!(store.recent_remote_ids("y", T, 10).unwrap(), ["old-y"]);
    assert!(store.recent_remote_ids("z", T, 10).unwrap().is_empty());
}

fn pause(scope: PauseScope, until: Option<Millis>) -> NewPause {
    NewPause {
        scope,
        until,
        reason: "storm".into(),
        by: "olena".into(),
    }
}

fn pauses_are_recorded_listed_expire_and_lift(store: &dyn Store) {
    assert_eq!(store.pause(&pause(PauseScope::All, None), T).unwrap(), 1);
    let account = PauseScope::Account("demo".into());
    assert_eq!(
        store
            .pause(&pause(account.clone(), Some(T + MINUTE)), T)
            .unwrap(),
        2
    );
    let campaign = PauseScope::Campaign("sale".into());
    assert_eq!(store.pause(&pause(campaign.clone(), None), T).unwrap(), 3);
    let listed = store.pauses(T).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.id, p.scope.clone(), p.until, p.by.as_str(), p.created_at))
            .collect::<Vec<_>>(),
        [
            (1, PauseScope::All, None, "olena", T),
            (2, account.clone(), Some(T + MINUTE), "olena", T),
            (3, campaign.clone(), None, "olena", T),
        ]
    );
    // `until` passes: no longer in force, and nothing left to lift.
    assert_eq!(
        store
            .pauses(T + MINUTE)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(store.resume(&account, "taras", T + MINUTE).unwrap(), 0);
    // Lifting one scope leaves the others.
    assert_eq!(
        store
            .resume(&PauseScope::Campaign("other".into()), "taras", T)
            .unwrap(),
        0
    );
    assert_eq!(store.resume(&campaign, "taras", T + 1).unwrap(), 1);
    assert_eq!(
        store
            .pauses(T + 2)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    // `All` lifts every pause in force.
    assert_eq!(store.resume(&PauseScope::All, "taras", T + 3).unwrap(), 2);
    assert!(store.pauses(T + 3).unwrap().is_empty());
}

fn held_sends_wait_unclaimed_and_are_released_or_skipped(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![
            posting(rev, "sale", "teaser", T, &["demo", "other"]),
            posting(rev, "sale", "launch", T, &["demo"]),
        ],
    );
    let claimed = store.claim(T, 10, None).unwrap();
    assert_eq!(claimed.len(), 3);
    let held = |note: &str| OutboxOutcome::Held { note: note.into() };
    store
        .finish(
            &[(1, held("paused")), (2, sent("r-2")), (3, held("paused"))],
            T + 1,
        )
        .unwrap();
    assert!(store.claim(T + MINUTE, 10, None).unwrap().is_empty());
    assert_eq!(store.next_outbox_due().unwrap(), None);
    let runs = all(store);
    let teaser = runs.iter().find(|r| r.item == "teaser").unwrap();
    assert_eq!(
        teaser.state,
        RunState::Running,
        "a held send keeps its run open"
    );
    assert_eq!(
        (
            teaser.outbox[0].state,
            teaser.outbox[0].attempts,
            teaser.outbox[0].note.as_deref()
        ),
        (OutboxState::Held, 0, Some("paused"))
    );
    let listed = store.held_sends().unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|h| (
                h.id,
                h.run_id,
                h.key.item.as_str(),
                h.fire_at,
                h.account.as_str()
            ))
            .collect::<Vec<_>>(),
        [(1, 1, "teaser", T, "demo"), (3, 2, "launch", T, "demo")]
    );
    store
        .release_held(
            &[
                (1, Release::Send),
                (
                    3,
                    Release::Skip {
                        reason: "missed: skip".into(),
                    },
                ),
                // Not held: left alone.
                (
                    2,
                    Release::Skip {
                        reason: "no".into(),
                    },
                ),
            ],
            T + 2 * MINUTE,
        )
        .unwrap();
    assert!(store.held_sends().unwrap().is_empty());
    let runs = all(store);
    let launch = runs.iter().find(|r| r.item == "launch").unwrap();
    assert_eq!(
        (launch.state, launch.reason.as_deref()),
        (RunState::Skipped, Some("missed: skip"))
    );
    assert_eq!(launch.outbox[0].state, OutboxState::Skipped);
    let teaser = runs.iter().find(|r| r.item == "teaser").unwrap();
    assert_eq!(teaser.outbox[1].state, OutboxState::Sent);
    assert_eq!(store.next_outbox_due().unwrap(), Some(T + 2 * MINUTE));
    let again = store.claim(T + 2 * MINUTE, 10, None).unwrap();
    assert_eq!(
        again.iter().map(|r| (r.id, r.attempts)).collect::<Vec<_>>(),
        [(1, 1)]
    );
    store.finish(&[(1, sent("r-1"))], T + 3 * MINUTE).unwrap();
    let teaser = all(store).into_iter().find(|r| r.item == "teaser").unwrap();
    assert_eq!(teaser.state, RunState::Succeeded);
}

fn a_deferred_send_comes_back_at_its_slot_without_an_attempt(store: &dyn Store) {
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "sale", "teaser", T, &["demo"])]);
    store.claim(T, 10, None).unwrap();
    let note = "delayed by rules `brand`: 4 per 1h per account";
    store
        .finish(
            &[(
                1,
                OutboxOutcome::Deferred {
                    at: T + 20 * MINUTE,
                    note: note.into(),
                },
            )],
            T,
        )
        .unwrap();
    assert_eq!(store.next_outbox_due().unwrap(), Some(T + 20 * MINUTE));
    assert!(store.claim(T + MINUTE, 10, None).unwrap().is_empty());
    let run = &all(store)[0];
    assert_eq!(
        (
            run.state,
            run.outbox[0].state,
            run.outbox[0].attempts,
            run.outbox[0].note.as_deref()
        ),
        (RunState::Running, OutboxState::Pending, 0, Some(note))
    );
    let claimed = store.claim(T + 20 * MINUTE, 10, None).unwrap();
    assert_eq!(claimed[0].attempts, 1);
}

fn send_slots_are_recent_sends_and_future_ones(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![
            posting(rev, "sale", "a", T, &["demo"]),
            posting(rev, "sale", "b", T, &["demo"]),
            posting(rev, "news", "c", T, &["other"]),
            posting(rev, "news", "d", T, &["other"]),
            {
                // A notice to the team and a direct message take no slot.
                let mut run = posting(rev, "alert", "e", T, &["demo", "other"]);
                run.outbox[0].post.notice = true;
                run.outbox[1].post.direct_to = Some("@winner".into());
                run
            },
        ],
    );
    store.claim(T, 10, None).unwrap();
    store
        .finish(
            &[
                (1, sent("r-1")),
                (
                    2,
                    OutboxOutcome::Deferred {
                        at: T + 30 * MINUTE,
                        note: "limit".into(),
                    },
                ),
                (
                    4,
                    OutboxOutcome::Failed {
                        error: "refused".into(),
                    },
                ),
            ],
            T + MINUTE,
        )
        .unwrap();
    // 3 is still sending (claimed at T).
    let slots = store.send_slots(T - 60 * MINUTE, T + MINUTE).unwrap();
    assert_eq!(
        slots
            .iter()
            .map(|s| (s.id, s.account.as_str(), s.playbook.as_str(), s.at))
            .collect::<Vec<_>>(),
        [
            // When it was claimed to go out, not when the network answered.
            (1, "demo", "sale", T),
            (2, "demo", "sale", T + 30 * MINUTE),
            (3, "other", "news", T),
        ]
    );
    // Older sends fall out of the window.
    assert_eq!(
        store
            .send_slots(T + 1, T + MINUTE)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [2]
    );
}

fn mention(key: &str, at: Millis, text: &str) -> crier::store::NewMention {
    crier::store::NewMention {
        key: key.into(),
        at,
        author: format!("@{key}"),
        text: text.into(),
    }
}

fn crisis_mentions_are_stored_once_with_their_cursor(store: &dyn Store) {
    assert_eq!(store.crisis_cursor("outage", "masto").unwrap(), None);
    let first = [
        mention("m:1", T, "down"),
        mention("m:2", T + MINUTE, "down again"),
    ];
    assert_eq!(
        store
            .add_crisis_mentions("outage", "masto", &first, Some("c2"), T)
            .unwrap(),
        2
    );
    // Seen again through another watched account: stored once; the cursors are per account.
    let again = [
        mention("m:2", T + MINUTE, "down again"),
        mention("t:9", T, "не працює"),
    ];
    assert_eq!(
        store
            .add_crisis_mentions("outage", "tg", &again, Some("10"), T)
            .unwrap(),
        1
    );
    // Another plan keeps its own copy.
    assert_eq!(
        store
            .add_crisis_mentions("leak", "masto", &first, None, T)
            .unwrap(),
        2
    );
    assert_eq!(
        store.crisis_cursor("outage", "masto").unwrap().as_deref(),
        Some("c2")
    );
    assert_eq!(
        store.crisis_cursor("outage", "tg").unwrap().as_deref(),
        Some("10")
    );
    assert_eq!(store.crisis_cursor("leak", "masto").unwrap(), None);
    let all = store.crisis_mentions("outage", 0, 0).unwrap();
    let texts: Vec<&str> = all.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["down", "down again", "не працює"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let after = store.crisis_mentions("outage", all[0].seq, 0).unwrap();
    assert_eq!(after.len(), 2);
    let recent = store.crisis_mentions("outage", 0, T + MINUTE).unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].text, "down again");
}

/// A call of many mentions (stored several rows to a statement) counts and keeps each key
/// once, the first time it comes, whether the same key comes again in the same call, in the
/// same statement or in another call; numbers follow the order they came in.
fn many_mentions_count_each_new_key_once_in_order(store: &dyn Store) {
    // Each key twice in a row: 75 mentions, 38 keys.
    let twice: Vec<_> = (0..75)
        .map(|i| mention(&format!("m:{}", i / 2), T + i, &format!("text {i}")))
        .collect();
    assert_eq!(
        store
            .add_crisis_mentions("outage", "masto", &twice, None, T)
            .unwrap(),
        38
    );
    // 100 keys, the first 8 stored already.
    let more: Vec<_> = (30..130)
        .map(|k| mention(&format!("m:{k}"), T + 200 + k, &format!("more {k}")))
        .collect();
    assert_eq!(
        store
            .add_crisis_mentions("outage", "masto", &more, None, T)
            .unwrap(),
        92
    );
    assert_eq!(
        store
            .add_crisis_mentions("outage", "tg", &more, None, T)
            .unwrap(),
        0
    );
    let stored = store.crisis_mentions("outage", 0, 0).unwrap();
    assert_eq!(stored.len(), 130);
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
    let texts: Vec<String> = stored.iter().map(|m| m.text.clone()).collect();
    let expected: Vec<String> = (0..38)
        .map(|k| format!("text {}", 2 * k))
        .chain((38..130).map(|k| format!("more {k}")))
        .collect();
    assert_eq!(texts, expected);
}

fn incident(id: i64, status: &str) -> crier::store::IncidentRow {
    crier::store::IncidentRow {
        id,
        plan: "outage".into(),
        status: status.into(),
        level: "critical".into(),
        opened_at: T,
        resolved_at: (status == "resolved").then_some(T + 60 * MINUTE),
        report: format!("{{\"id\":{id},\"status\":\"{status}\"}}"),
    }
}

fn crisis_states_incidents_and_pauses_commit_together(store: &dyn Store) {
    let revision = revision(store);
    assert_eq!(store.next_incident_id().unwrap(), 1);
    store
        .add_crisis_mentions(
            "outage",
            "masto",
            &[
                mention("m:1", T - 10 * MINUTE, "old"),
                mention("m:2", T, "new"),
            ],
            None,
            T,
        )
        .unwrap();
    store
        .commit(&Batch {
            now: T,
            runs: vec![posting(revision, "outage", "incident-1/1", T, &["slack"])],
            crisis: vec![crier::store::CrisisWrite {
                plan: "outage".into(),
                state: "{\"v\":1}".into(),
                incidents: vec![incident(1, "open")],
                applied: vec![],
                forget_mentions_before: Some(T - MINUTE),
            }],
            pauses: vec![pause(PauseScope::Campaigns, None)],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(
        store.crisis_state("outage").unwrap().as_deref(),
        Some("{\"v\":1}")
    );
    assert_eq!(store.crisis_state("leak").unwrap(), None);
    assert_eq!(store.incident(1).unwrap(), Some(incident(1, "open")));
    assert_eq!(store.next_incident_id().unwrap(), 2);
    assert_eq!(store.pauses(T).unwrap().len(), 1);
    assert_eq!(all(store).len(), 1);
    let kept: Vec<String> = store
        .crisis_mentions("outage", 0, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(kept, ["new"], "mentions before the horizon are forgotten");

    // A plan lifts only its own pauses: this one is a person's.
    store
        .commit(&Batch {
            now: T + 30 * MINUTE,
            resumes: vec![crier::store::NewResume {
                scope: PauseScope::Campaigns,
                by: "crisis:outage".into(),
                paused_by: Some("crisis:outage".into()),
            }],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.pauses(T + 30 * MINUTE).unwrap().len(), 1);

    // The resolve replaces the incident and lifts the pause in the same commit.
    store
        .commit(&Batch {
            now: T + 60 * MINUTE,
            crisis: vec![crier::store::CrisisWrite {
                plan: "outage".into(),
                state: "{\"v\":2}".into(),
                incidents: vec![incident(1, "resolved"), incident(2, "open")],
                ..Default::default()
            }],
            resumes: vec![crier::store::NewResume {
                scope: PauseScope::Campaigns,
                by: "crisis:outage".into(),
                paused_by: None,
            }],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(
        store.crisis_state("outage").unwrap().as_deref(),
        Some("{\"v\":2}")
    );
    let incidents = store.incidents().unwrap();
    assert_eq!(
        incidents,
        vec![incident(2, "open"), incident(1, "resolved")]
    );
    assert!(store.pauses(T + 60 * MINUTE).unwrap().is_empty());
    // Once every mention is forgotten, a new one still numbers after the last one read.
    let last = store.crisis_mentions("outage", 0, 0).unwrap()[0].seq;
    store
        .commit(&Batch {
            now: T + 2 * 60 * MINUTE,
            crisis: vec![crier::store::CrisisWrite {
                plan: "outage".into(),
                state: "{}".into(),
                forget_mentions_before: Some(T + 2 * 60 * MINUTE),
                ..Default::default()
            }],
            ..Batch::default()
        })
        .unwrap();
    assert!(store.crisis_mentions("outage", 0, 0).unwrap().is_empty());
    store
        .add_crisis_mentions("outage", "masto", &[mention("m:3", T, "later")], None, T)
        .unwrap();
    let again = store.crisis_mentions("outage", last, 0).unwrap();
    assert_eq!(again.len(), 1, "a number is never reused");
}

fn incident_actions_wait_until_applied(store: &dyn Store) {
    assert!(
        store.add_incident_action(1, "{}", T).is_err(),
        "no incident 1 yet"
    );
    store
        .commit(&Batch {
            now: T,
            crisis: vec![crier::store::CrisisWrite {
                plan: "outage".into(),
                state: "{}".into(),
                incidents: vec![incident(1, "open")],
                ..Default::default()
            }],
            ..Batch::default()
        })
        .unwrap();
    let ack = store
        .add_incident_action(1, "{\"action\":\"ack\"}", T + 1)
        .unwrap();
    let resolve = store
        .add_incident_action(1, "{\"action\":\"resolve\"}", T + 2)
        .unwrap();
    assert!(store.pending_incident_actions("leak").unwrap().is_empty());
    let pending = store.pending_incident_actions("outage").unwrap();
    assert_eq!(
        pending.iter().map(|a| a.id).collect::<Vec<_>>(),
        [ack, resolve]
    );
    assert_eq!(pending[0].at, T + 1);
    store
        .commit(&Batch {
            now: T + 5,
            crisis: vec![crier::store::CrisisWrite {
                plan: "outage".into(),
                state: "{}".into(),
                applied: vec![(ack, None), (resolve, Some("already resolved".into()))],
                ..Default::default()
            }],
            ..Batch::default()
        })
        .unwrap();
    assert!(store.pending_incident_actions("outage").unwrap().is_empty());
    let refused = store.incident_action(resolve).unwrap().unwrap();
    assert_eq!(refused.applied_at, Some(T + 5));
    assert_eq!(refused.outcome.as_deref(), Some("already resolved"));
    assert_eq!(store.incident_action(ack).unwrap().unwrap().outcome, None);
    assert_eq!(store.incident_action(99).unwrap(), None);
}

/// Processes opening a new store together (a read command beside a starting service)
/// never apply a migration twice.
#[test]
fn opening_a_new_store_from_many_threads_at_once_migrates_it_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crier.db");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    crier::store::SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    }
}

/// Commands that only read never create a store, and read one they cannot write.
#[test]
fn read_commands_create_no_store_and_read_a_read_only_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  brand: { network: console }\npeople:\n  pr: { notify: brand }\n",
    )
    .unwrap();
    let crier = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .output()
            .unwrap()
    };
    let path = dir.path().to_str().unwrap();
    for args in [
        vec!["approvals", "--path", path],
        vec!["status", path],
        vec!["history", path],
    ] {
        let out = crier(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!dir.path().join("crier.db").exists());

    crier::store::SqliteStore::open(&dir.path().join("crier.db")).unwrap();
    let db = dir.path().join("crier.db");
    let mut permissions = std::fs::metadata(&db).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&db, permissions).unwrap();
    let out = crier(&["approvals", "--path", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The store's interface is the backend's business of none: its traits and error type name no
/// SQLite type, so a second backend implements them without depending on rusqlite.
#[test]
fn the_store_interface_names_no_backend() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    for file in ["api.rs", "mod.rs", "model.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (number, line) in text.lines().enumerate() {
            assert!(
                !line.contains("rusqlite"),
                "src/store/{file}:{}: the interface names a backend: {line}",
                number + 1
            );
        }
    }
}

/// A caller that needs one aggregate takes only its trait; a whole store is each of them.
#[test]
fn a_store_is_each_of_its_aggregates() {
    use crier::store::{
        ApprovalStore, ContestStore, CrisisStore, MetricsStore, PauseStore, RunStore,
        ScheduleStore, ViewStore,
    };
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::in_memory().unwrap());
    let schedules: &dyn ScheduleStore = store.as_ref();
    let revision = schedules.record_revision("d", T).unwrap();
    let runs: &dyn RunStore = store.as_ref();
    runs.commit(&Batch {
        now: T,
        runs: vec![posting(revision, "news", "a", T, &["x"])],
        ..Batch::default()
    })
    .unwrap();
    let views: &dyn ViewStore = store.as_ref();
    assert_eq!(views.history(&HistoryFilter::default()).unwrap().len(), 1);
    let contests: &dyn ContestStore = store.as_ref();
    contests.put_contest_state("c", "{}", T).unwrap();
    assert_eq!(contests.contest_state("c").unwrap().as_deref(), Some("{}"));
    let pauses: &dyn PauseStore = store.as_ref();
    assert!(pauses.pauses(T).unwrap().is_empty());
    let approvals: &dyn ApprovalStore = store.as_ref();
    assert!(approvals.approvals(false).unwrap().is_empty());
    let crisis: &dyn CrisisStore = store.as_ref();
    assert_eq!(crisis.next_incident_id().unwrap(), 1);
    let metrics: &dyn MetricsStore = store.as_ref();
    assert_eq!(metrics.latest_metrics("x").unwrap(), None);
}

/// The schema as stores made before migrations were recorded by name had it: the first
/// `version` files applied in order, counted in `user_version`.
fn positional_store(path: &std::path::Path, version: usize) -> rusqlite::Connection {
    const OLD: [&str; 8] = [
        include_str!("../src/store/sqlite/migrations/0001_init.sql"),
        include_str!("../src/store/sqlite/migrations/0002_alive.sql"),
        include_str!("../src/store/sqlite/migrations/0003_metrics.sql"),
        include_str!("../src/store/sqlite/migrations/0004_holds.sql"),
        include_str!("../src/store/sqlite/migrations/0005_contests.sql"),
        include_str!("../src/store/sqlite/migrations/0007_approvals.sql"),
        include_str!("../src/store/sqlite/migrations/0008_incidents.sql"),
        include_str!("../src/store/sqlite/migrations/0009_claims.sql"),
    ];
    let connection = rusqlite::Connection::open(path).unwrap();
    for sql in &OLD[..version] {
        connection.execute_batch(sql).unwrap();
    }
    connection
        .pragma_update(None, "user_version", version)
        .unwrap();
    connection
}

fn recorded_migrations(path: &std::path::Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut query = connection
        .prepare("SELECT name FROM schema_migrations ORDER BY name")
        .unwrap();
    query
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every migration of this crier: the files in `src/store/sqlite/migrations/`, in order.
fn all_migrations() -> Vec<String> {
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite/migrations");
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// A store whose migrations were counted by position opens with its rows, its migrations
/// recorded by name, and those it lacked applied.
#[test]
fn a_store_with_positional_migrations_keeps_its_rows_and_gets_them_recorded() {
    let dir = tempfile::tempdir().unwrap();
    for version in [8, 5] {
        let path = dir.path().join(format!("v{version}.db"));
        let old = positional_store(&path, version);
        old.execute(
            "INSERT INTO revisions (digest, loaded_at) VALUES ('d1', ?1)",
            [T],
        )
        .unwrap();
        old.execute(
            "INSERT INTO contests (name, state, updated_at) VALUES ('giveaway', '{\"seed\":1}', ?1)",
            [T],
        )
        .unwrap();
        drop(old);
        assert!(
            !SqliteStore::open_read_only(&path)
                .unwrap()
                .is_current()
                .unwrap()
        );

        let opened = SqliteStore::open(&path).unwrap();
        assert!(opened.is_current().unwrap());
        let store: &dyn Store = &opened;
        assert_eq!(store.first_started().unwrap(), Some(T));
        assert_eq!(store.record_revision("d1", T + 1).unwrap(), 1);
        assert_eq!(
            store.contest_state("giveaway").unwrap().as_deref(),
            Some("{\"seed\":1}")
        );
        // The migrations it lacked ran: the tables of 0007 and later are there.
        assert!(store.approvals(false).unwrap().is_empty());
        assert_eq!(store.next_incident_id().unwrap(), 1);
        drop(opened);
        assert_eq!(recorded_migrations(&path), all_migrations());
        // Opening it again changes nothing.
        SqliteStore::open(&path).unwrap();
        assert_eq!(recorded_migrations(&path), all_migrations());
    }
}

/// A migration edited after a store applied it is refused, naming it; so is a store that
/// applied migrations this crier does not know.
#[test]
fn a_changed_or_unknown_applied_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    SqliteStore::open(&path).unwrap();
    assert_eq!(recorded_migrations(&path), all_migrations());
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute(
        "UPDATE schema_migrations SET checksum = ?1 WHERE name = '0004_holds'",
        ["0".repeat(64)],
    )
    .unwrap();
    let error = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot use the store `{}`: ", path.display()))
            && error.contains("migration `0004_holds` changed after this store applied it")
            && error.contains("000000000000 then"),
        "{error}"
    );
    side.execute(
        "UPDATE schema_migrations SET checksum = (SELECT checksum FROM schema_migrations WHERE name = '0001_init') WHERE name = '0004_holds'",
        [],
    )
    .unwrap();
    assert!(SqliteStore::open(&path).is_err());

    let path = dir.path().join("newer.db");
    SqliteStore::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ('0099_later', 'x', 0)",
            [],
        )
        .unwrap();
    let error = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        error.contains("migration `0099_later`, which this crier does not know")
            && error.contains("upgrade crier"),
        "{error}"
    );
}

/// A store call made through a `StoreHandle` runs off the async workers: on a runtime with
/// one worker, a call that waits for another task of that runtime still gets its answer
/// (run on the worker, it would block the only thread that task could run on).
#[test]
fn store_calls_from_async_code_leave_the_worker_free() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle =
        crier::store::StoreHandle::new(std::sync::Arc::new(SqliteStore::in_memory().unwrap()));
    let (sender, receiver) = std::sync::mpsc::channel::<()>();
    let answer = runtime.block_on(async move {
        let signal = tokio::spawn(async move { sender.send(()).unwrap() });
        let answer = handle
            .call(move |store| {
                // Bounded: the other task signals as soon as it runs.
                let signalled = receiver
                    .recv_timeout(std::time::Duration::from_secs(20))
                    .is_ok();
                Ok((signalled, store.record_revision("d", T)?))
            })
            .await;
        signal.await.unwrap();
        answer
    });
    assert_eq!(answer.unwrap(), (true, 1));
}

/// Files of one concept: the SQLite backend is one file per aggregate and the crisis runner
/// one file per part (state, evaluate, act, due, steps), none of them a catch-all.
#[test]
fn the_sqlite_backend_and_the_crisis_runner_are_split_by_concept() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for folder in ["store/sqlite", "crisis/runner"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                assert!(
                    lines <= 600,
                    "{}: {lines} lines; split it by concept",
                    path.display()
                );
            }
        }
    }
    for part in ["state", "evaluate", "act", "due", "steps"] {
        assert!(
            root.join(format!("crisis/runner/{part}.rs")).exists(),
            "{part}"
        );
    }
    for aggregate in [
        "runs",
        "schedules",
        "approvals",
        "pauses",
        "contests",
        "crisis",
        "metrics",
        "views",
    ] {
        assert!(
            root.join(format!("store/sqlite/{aggregate}.rs")).exists(),
            "{aggregate}"
        );
    }
}

fn contest_entries_are_read_by_key(store: &dyn Store) {
    let entries = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let keys = |keys: &[&str]| -> Vec<String> { keys.iter().map(|k| k.to_string()).collect() };
    store
        .put_contest_entries(
            "giveaway",
            &entries(&[("a", "1"), ("b", "2"), ("c", "3")]),
            T,
        )
        .unwrap();
    store
        .put_contest_entries("other", &entries(&[("x", "9")]), T)
        .unwrap();
    store
        .put_contest_entries("giveaway", &entries(&[("b", "2'")]), T + 1)
        .unwrap();
    assert_eq!(
        store
            .contest_entries_of("giveaway", &keys(&["c", "x", "b", "zz"]))
            .unwrap(),
        entries(&[("c", "3"), ("b", "2'")])
    );
    assert!(
        store
            .contest_entries_of("nobody", &keys(&["a"]))
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .contest_entries_of("giveaway", &[])
            .unwrap()
            .is_empty()
    );
}

/// The statements the dispatcher and the engine run for every send or tick read indexes,
/// never the whole outbox or every step (what they cost must not grow with what is stored).
#[test]
fn hot_statements_read_indexes_not_whole_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    SqliteStore::open(&path).unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite");
    for name in [
        "runs/claim_outbox",
        "runs/claim_ids",
        "runs/pending_accounts",
        "runs/due_of_account",
        "runs/mark_in_flight",
        "runs/finish_sent",
        "runs/settle_run",
        "runs/send_slots",
        "runs/next_outbox_due",
        "runs/next_wake",
        "runs/waiting_steps_due",
        "runs/recover_in_doubt",
        "runs/recover_unstarted",
        "pauses/pauses_in_force",
        "pauses/held_sends",
        "crisis/mentions_page",
    ] {
        let sql = std::fs::read_to_string(root.join(format!("{name}.sql"))).unwrap();
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let count = statement.parameter_count();
        let plan: Vec<String> = statement
            .query_map(
                rusqlite::params_from_iter(std::iter::repeat_n("[]", count)),
                |row| row.get::<_, String>(3),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for line in &plan {
            let whole_table = line.starts_with("SCAN ")
                && !line.contains("USING")
                && !line.contains("json_each")
                && !line.starts_with("SCAN accounts")
                && !line.starts_with("SCAN a");
            assert!(!whole_table, "{name}: {line}\n{plan:#?}");
        }
    }
}

/// A state this crier does not know (a store written by a newer one, or edited by hand) is
/// an error naming the value, not a run, step or send shown as failed.
#[test]
fn an_unknown_state_in_the_store_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).unwrap();
    let rev = revision(&store);
    commit(&store, T, vec![posting(rev, "news", "a", T, &["x"])]);
    assert_eq!(all(&store).len(), 1);
    let side = rusqlite::Connection::open(&path).unwrap();
    for (table, error) in [
        ("outbox", "unknown send state `frobbed`"),
        ("steps", "unknown step state `frobbed`"),
        ("runs", "unknown run state `frobbed`"),
    ] {
        side.execute(&format!("UPDATE {table} SET state = 'frobbed'"), [])
            .unwrap();
        let refused = (&store as &dyn Store)
            .history(&HistoryFilter::default())
            .unwrap_err();
        assert!(
            matches!(refused, crier::store::StoreError::Corrupt(_))
                && refused.to_string().contains(error),
            "{refused}"
        );
    }
}

fn unchecked_entries_are_those_made_by_the_close_not_read_again(store: &dyn Store) {
    let entry = |at: &str, checked: bool| {
        let checked = if checked {
            r#","checked_at_close":true"#
        } else {
            ""
        };
        format!(r#"{{"at":"{at}"{checked}}}"#)
    };
    let close = 1_800_000_000_000; // 2027-01-15T08:00:00Z
    let entries = vec![
        (
            "early".to_string(),
            entry("2027-01-15T07:59:59.999Z", false),
        ),
        ("checked".to_string(), entry("2027-01-15T07:00:00Z", true)),
        (
            "at-close".to_string(),
            entry("2027-01-15T08:00:00+00:00", false),
        ),
        ("late".to_string(), entry("2027-01-15T08:00:01Z", false)),
        (
            "kyiv".to_string(),
            entry("2027-01-15T09:30:00+02:00", false),
        ),
    ];
    store.put_contest_entries("giveaway", &entries, T).unwrap();
    store
        .put_contest_entries(
            "other",
            &[("o".into(), entry("2027-01-01T00:00:00Z", false))],
            T,
        )
        .unwrap();
    let keys = |rows: Vec<(String, String)>| rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        keys(store.unchecked_entries("giveaway", close).unwrap()),
        ["at-close", "early", "kyiv"]
    );
    // Read again: it is no longer waited for.
    store
        .put_contest_entries(
            "giveaway",
            &[("early".into(), entry("2027-01-15T07:59:59.999Z", true))],
            T + 1,
        )
        .unwrap();
    assert_eq!(
        keys(store.unchecked_entries("giveaway", close).unwrap()),
        ["at-close", "kyiv"]
    );
    assert!(store.unchecked_entries("nobody", close).unwrap().is_empty());
}

/// A call that fails inside a group changes nothing, and the group goes on: what the
/// calls before it wrote is committed with the group.
#[test]
fn a_failed_call_in_a_group_leaves_the_group_as_it_was() {
    let store = grouped();
    let rev = revision(&store);
    commit(&store, T, vec![posting(rev, "news", "a", T, &["x"])]);
    let refused = store.commit(&Batch {
        now: T,
        runs: vec![posting(99, "news", "b", T, &["x"])],
        ..Batch::default()
    });
    assert!(refused.is_err());
    commit(&store, T, vec![posting(rev, "news", "c", T, &["x"])]);
    store.commit_group().unwrap();
    let items: Vec<String> = store
        .timeline()
        .unwrap()
        .into_iter()
        .map(|r| r.item)
        .collect();
    assert_eq!(items, ["a", "c"]);
}

/// Forgetting finished runs keeps those still going and each item's latest post per
/// account (what a reply reads), and the latest remote ids stay as they were; on the
/// store in memory and on the lean one of a rehearsal that forgets.
#[test]
fn forgetting_finished_runs_keeps_runs_going_and_each_items_latest_post() {
    for store in [
        SqliteStore::in_memory().unwrap(),
        SqliteStore::in_memory_forgetting().unwrap(),
    ] {
        forgetting_keeps_runs_going_and_each_items_latest_post(store);
    }
}

fn forgetting_keeps_runs_going_and_each_items_latest_post(store: SqliteStore) {
    let rev = revision(&store);
    commit(
        &store,
        T,
        vec![
            posting(rev, "news", "a", T, &["x"]),
            posting(rev, "news", "a", T + MINUTE, &["x"]),
            posting(rev, "news", "b", T + MINUTE, &["x"]),
            posting(rev, "news", "a", T + 2 * MINUTE, &["x"]),
        ],
    );
    send_all_due(&store, T + MINUTE);
    assert_eq!(store.unfinished_from().unwrap(), Some(T + 2 * MINUTE));
    let latest = store
        .latest_remote_id(&ItemKey::new("news", "a"), "x")
        .unwrap();
    // Only a's first post goes: a's second is its latest sent, b's is b's only, and a's
    // third is still to be sent.
    assert_eq!(store.forget_finished_runs(T + 3 * MINUTE, true).unwrap(), 1);
    let left: Vec<(String, Millis)> = store
        .timeline()
        .unwrap()
        .into_iter()
        .map(|r| (r.item, r.fire_at))
        .collect();
    assert_eq!(
        left,
        [
            ("a".to_string(), T + MINUTE),
            ("b".to_string(), T + MINUTE),
            ("a".to_string(), T + 2 * MINUTE)
        ]
    );
    assert_eq!(
        store
            .latest_remote_id(&ItemKey::new("news", "a"), "x")
            .unwrap(),
        latest
    );
    assert_eq!(store.forget_finished_runs(T + 3 * MINUTE, true).unwrap(), 0);
}

/// Claims every send due at `now` and records each as sent.
fn send_all_due(store: &SqliteStore, now: Millis) {
    let claimed = store.claim(now, 10, None).unwrap();
    let outcomes: Vec<_> = claimed
        .iter()
        .map(|row| (row.id, sent(&format!("sent-{}", row.id))))
        .collect();
    store.finish(&outcomes, now).unwrap();
}

/// Without replies to keep a post for, every finished run goes, the latest too; a run
/// still to send stays.
#[test]
fn forgetting_finished_runs_without_replies_keeps_only_runs_going() {
    for store in [
        SqliteStore::in_memory().unwrap(),
        SqliteStore::in_memory_forgetting().unwrap(),
    ] {
        let rev = revision(&store);
        commit(
            &store,
            T,
            vec![
                posting(rev, "news", "a", T, &["x"]),
                posting(rev, "news", "b", T + MINUTE, &["x"]),
                posting(rev, "news", "a", T + 2 * MINUTE, &["x"]),
            ],
        );
        send_all_due(&store, T + MINUTE);
        assert_eq!(
            store.forget_finished_runs(T + 3 * MINUTE, false).unwrap(),
            2
        );
        let left: Vec<(String, Millis)> = store
            .timeline()
            .unwrap()
            .into_iter()
            .map(|r| (r.item, r.fire_at))
            .collect();
        assert_eq!(left, [("a".to_string(), T + 2 * MINUTE)]);
        assert_eq!(
            store
                .latest_remote_id(&ItemKey::new("news", "b"), "x")
                .unwrap(),
            None
        );
    }
}

/// A rehearsal's sends, read when due and their results written straight from pending,
/// leave every run and send as the service's claims and results do: the first failure by
/// id fails a run, a send still to go keeps it running, one a pause dropped does not make
/// a run with a post skipped.
#[test]
fn a_rehearsals_results_settle_runs_as_the_services_do() {
    let service = SqliteStore::in_memory().unwrap();
    let rehearsal = grouped();
    for store in [&service, &rehearsal] {
        let rev = revision(store);
        commit(
            store,
            T,
            vec![
                posting(rev, "sale", "teaser", T, &["a", "b", "c"]),
                posting(rev, "sale", "launch", T, &["demo", "other"]),
                posting(rev, "sale", "quiet", T, &["p", "q"]),
                posting(rev, "sale", "wrap", T, &["x"]),
            ],
        );
    }
    let failed = |error: &str| OutboxOutcome::Failed {
        error: error.into(),
    };
    let held = || OutboxOutcome::Held {
        note: "paused".into(),
    };
    let record = |now: Millis, outcomes: &[(OutboxId, OutboxOutcome)]| {
        let claimed: Vec<OutboxId> = service
            .claim(now, 100, None)
            .unwrap()
            .iter()
            .map(|row| row.id)
            .collect();
        let due: Vec<OutboxId> = rehearsal
            .rehearsal_due(now, 100)
            .unwrap()
            .iter()
            .map(|row| row.id)
            .collect();
        assert_eq!(due, claimed);
        service.finish(outcomes, now).unwrap();
        rehearsal
            .record_rehearsal_outcomes(outcomes, true, now)
            .unwrap();
    };
    record(
        T,
        &[
            (3, failed("401: bad token")),
            (1, sent("r-1")),
            (2, failed("422: too long")),
            (4, held()),
            (
                5,
                OutboxOutcome::Retry {
                    at: T + MINUTE,
                    error: "503".into(),
                    check_first: false,
                },
            ),
            (6, held()),
            (7, held()),
            (8, sent("r-8")),
        ],
    );
    let skip = || Release::Skip {
        reason: "missed: skip".into(),
    };
    for store in [&service, &rehearsal] {
        crier::store::PauseStore::release_held(
            store,
            &[(4, skip()), (6, skip()), (7, Release::Send)],
            T + 2 * MINUTE,
        )
        .unwrap();
    }
    record(T + 2 * MINUTE, &[(5, failed("400: no")), (7, sent("r-7"))]);
    let runs = all(&rehearsal);
    assert_eq!(runs, all(&service));
    let ended = |item: &str| {
        let run = runs.iter().find(|run| run.item == item).unwrap();
        (run.state, run.reason.clone())
    };
    assert_eq!(
        ended("teaser"),
        (RunState::Failed, Some("b: 422: too long".into()))
    );
    assert_eq!(
        ended("launch"),
        (RunState::Failed, Some("other: 400: no".into()))
    );
    assert_eq!(ended("quiet"), (RunState::Succeeded, None));
    assert_eq!(ended("wrap"), (RunState::Succeeded, None));
    rehearsal.commit_group().unwrap();
}

/// The dispatcher's group commit: the results of requests that ended and the marks of
/// those about to leave, together; both only for the claimant.
fn finish_and_mark_records_results_and_marks_of_the_claimant(store: &dyn Store) {
    let rev = revision(store);
    commit(
        store,
        T,
        vec![posting(rev, "news", "a", T, &["x", "y", "z"])],
    );
    assert_eq!(store.claim(T, 10, None).unwrap().len(), 3);
    assert_eq!(store.mark_in_flight(OWNER, &[1], T + 1).unwrap(), [1]);
    // Nothing to do is no error.
    assert_eq!(
        store.finish_and_mark(OWNER, &[], &[], T + 2).unwrap(),
        (vec![], vec![])
    );
    // Another dispatcher neither records nor marks.
    assert_eq!(
        store
            .finish_and_mark("someone-else", &[(1, sent("r-1"))], &[2], T + 2)
            .unwrap(),
        (vec![1], vec![])
    );
    assert_eq!(
        store
            .finish_and_mark(OWNER, &[(1, sent("r-1"))], &[3, 2], T + 3)
            .unwrap(),
        (vec![], vec![3, 2])
    );
    let outbox = &all(store)[0].outbox;
    assert_eq!(
        outbox
            .iter()
            .map(|o| (o.state, o.remote_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            (OutboxState::Sent, Some("r-1")),
            (OutboxState::Sending, None),
            (OutboxState::Sending, None),
        ]
    );
    // Marked in flight: after a stop, both are in doubt, none is unstarted.
    assert_eq!(
        store.recover_claims_of(OWNER, T + 4).unwrap(),
        Recovered {
            in_doubt: 2,
            unstarted: 0
        }
    );
}

/// A group commit that fails records none of it: neither the results of the requests that
/// ended (they stay claimed, and are taken back in doubt when the lease passes) nor the
/// marks of those about to leave (which must not leave).
#[test]
fn a_failed_group_commit_records_neither_results_nor_marks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).unwrap();
    let store: &dyn Store = &store;
    let rev = revision(store);
    commit(store, T, vec![posting(rev, "news", "a", T, &["x", "y"])]);
    assert_eq!(store.claim(T, 10, None).unwrap().len(), 2);
    assert_eq!(store.mark_in_flight(OWNER, &[1], T + 1).unwrap(), [1]);
    // The disk refuses the second half of the commit (the mark).
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch(
        "CREATE TRIGGER refuse_marks BEFORE UPDATE OF in_flight_at ON outbox \
         WHEN NEW.in_flight_at IS NOT NULL AND NEW.id = 2 \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    let refused = store
        .finish_and_mark(OWNER, &[(1, sent("r-1"))], &[2], T + 2)
        .unwrap_err();
    assert!(refused.to_string().contains("disk full"), "{refused}");
    let outbox = &all(store)[0].outbox;
    assert_eq!(
        outbox
            .iter()
            .map(|o| (o.state, o.remote_id.as_deref()))
            .collect::<Vec<_>>(),
        [(OutboxState::Sending, None), (OutboxState::Sending, None)]
    );
    assert_eq!(
        store.recover_claims_of(OWNER, T + 3).unwrap(),
        Recovered {
            in_doubt: 1,
            unstarted: 1
        }
    );
    // Once the disk takes writes again, the next commit holds both.
    side.execute_batch("DROP TRIGGER refuse_marks").unwrap();
    assert_eq!(store.claim(T + 4, 10, None).unwrap().len(), 2);
    assert_eq!(
        store.finish_and_mark(OWNER, &[], &[1, 2], T + 5).unwrap(),
        (vec![], vec![1, 2])
    );
    assert_eq!(
        store
            .finish_and_mark(OWNER, &[(1, sent("r-1")), (2, sent("r-2"))], &[], T + 6)
            .unwrap(),
        (vec![], vec![])
    );
    assert!(
        all(store)[0]
            .outbox
            .iter()
            .all(|o| o.state == OutboxState::Sent)
    );
}

fn sessions_end_and_login_links_are_used_once_before_they_expire(store: &dyn Store) {
    use crier::store::{NewLoginLink, NewSession};
    let session = NewSession {
        person: "vera".into(),
        sha256: "s1".into(),
        csrf: "c1".into(),
        expires_at: 5_000,
    };
    let id = store.add_session(&session, 1_000).unwrap();
    assert!(
        store.add_session(&session, 1_000).is_err(),
        "a digest is recorded once"
    );
    let row = store.session_by_sha256("s1").unwrap().unwrap();
    assert_eq!(
        (row.id, row.person.as_str(), row.csrf.as_str()),
        (id, "vera", "c1")
    );
    assert_eq!(
        (row.created_at, row.expires_at, row.ended_at),
        (1_000, 5_000, None)
    );
    assert!(store.session_by_sha256("other").unwrap().is_none());
    assert!(store.end_session("s1", 2_000).unwrap());
    assert!(!store.end_session("s1", 3_000).unwrap(), "ended once");
    assert_eq!(
        store.session_by_sha256("s1").unwrap().unwrap().ended_at,
        Some(2_000)
    );

    let link = |sha256: &str, expires_at| NewLoginLink {
        person: "ada".into(),
        sha256: sha256.into(),
        expires_at,
    };
    store.add_login_link(&link("l1", 10_000), 1_000).unwrap();
    store.add_login_link(&link("l2", 2_000), 1_000).unwrap();
    assert!(store.add_login_link(&link("l1", 10_000), 1_000).is_err());
    // The first use finds it unused and marks it; the second finds it used.
    let first = store.use_login_link("l1", 1_500).unwrap().unwrap();
    assert_eq!((first.person.as_str(), first.used_at), ("ada", None));
    let second = store.use_login_link("l1", 1_600).unwrap().unwrap();
    assert_eq!(second.used_at, Some(1_500));
    // An expired link is not marked used.
    let expired = store.use_login_link("l2", 3_000).unwrap().unwrap();
    assert_eq!((expired.expires_at, expired.used_at), (2_000, None));
    assert_eq!(
        store.use_login_link("l2", 3_100).unwrap().unwrap().used_at,
        None
    );
    assert!(store.use_login_link("nope", 1_000).unwrap().is_none());
}

/// A file store copies its write-ahead log into the database file in the background: pages
/// written (fewer than SQLite's own checkpoint at 1,000) reach the file while the store is
/// still open, without a commit having to do it.
#[test]
fn a_file_store_checkpoints_its_log_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    let store = SqliteStore::open(&path).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute_batch(
            "CREATE TABLE filler (blob BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
             INSERT INTO filler SELECT zeroblob(3000) FROM n;",
        )
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&path).unwrap().len() < before + 400 * 3000
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        std::fs::metadata(&path).unwrap().len() >= before + 400 * 3000,
        "the log was not copied into the database file while the store was open"
    );
    drop(store);
}

/// Every statement of the SQLite backend is prepared once and run as often as it is called:
/// none is prepared again at each run. (SQLite prepares a statement again whenever a
/// parameter its plan read is bound, as a bare `LIMIT ?N` is: the backend writes `LIMIT
/// +?N`.) Each file's statement is run three times on a migrated store, its parameters
/// bound to small numbers, or to an empty JSON array where `json_each` reads them.
#[test]
fn every_statement_is_prepared_once_however_often_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    drop(SqliteStore::open(&path).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite");
    // Every statement file but the migrations (which change the schema, and so prepare
    // every statement again by design), with its code without comments.
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() || folder.ends_with("migrations") || folder.ends_with("migrate") {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "sql") {
                let sql = std::fs::read_to_string(&file).unwrap();
                let code: String = sql
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                files.push((file, sql, code));
            }
        }
    }
    let first_word = |code: &str| {
        code.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    // The temporary tables some statements write (a rehearsal's forgetting) come first.
    for (_, sql, code) in &files {
        if first_word(code) == "CREATE" {
            connection.execute_batch(sql).unwrap();
        }
    }
    let mut checked = 0;
    let mut prepared_again = Vec::new();
    for (file, sql, code) in &files {
        // Schema statements (a rehearsal's lean store), and statements completed in code
        // (`{rows}`: as many rows as a call has).
        if ["CREATE", "DROP"].contains(&first_word(code).as_str()) || code.contains("{rows}") {
            continue;
        }
        let Ok(mut statement) = connection.prepare(sql) else {
            assert!(
                code.trim().trim_end_matches(';').contains(';'),
                "{}: does not prepare",
                file.display()
            );
            continue;
        };
        for _ in 0..3 {
            for index in 1..=statement.parameter_count() {
                let value: rusqlite::types::Value =
                    if code.contains(&format!("json_each(?{index})")) {
                        "[]".to_string().into()
                    } else {
                        (index as i64).into()
                    };
                statement.raw_bind_parameter(index, value).unwrap();
            }
            let mut rows = statement.raw_query();
            // A constraint may refuse the made-up values: preparing is what is counted.
            while let Ok(Some(_)) = rows.next() {}
        }
        checked += 1;
        if statement.get_status(rusqlite::StatementStatus::RePrepare) > 0 {
            prepared_again.push(file.strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert!(checked > 100, "only {checked} statements found");
    assert!(
        prepared_again.is_empty(),
        "prepared again at each run: {prepared_again:?}"
    );
}
