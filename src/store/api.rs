//! The store's interface, by aggregate: one trait for each (runs and the outbox, schedules,
//! approvals, pauses, contests, crisis plans, metrics, views), and `Store`, which is all of
//! them. Nothing here names a backend: errors are `StoreError`.

use super::links::LinkStore;
use super::model::*;
use super::sessions::SessionStore;
use super::tokens::TokenStore;
use super::{AccountMetrics, StoreResult};

/// Runs, their steps and the outbox: what fires commit, what the dispatcher claims and
/// finishes, and what the limits count.
pub trait RunStore: Send + Sync {
    /// What the inbound event `key` of `hook` fired, if it was received (written by
    /// `commit`, with the runs it fired).
    fn hook_receipt(&self, hook: &str, key: &str) -> StoreResult<Option<HookReceipt>>;
    /// Commits new runs (with steps and outbox rows) and advanced cursors together, and
    /// records that the engine was alive at `batch.now`. A run whose (playbook, item, fire time) exists already is left alone.
    fn commit(&self, batch: &Batch) -> StoreResult<Vec<RunId>>;
    /// Commits each batch as `commit` would, all in one transaction (one write to the disk
    /// for many inbound events): every batch or none. The runs of each, in order.
    fn commit_all(&self, batches: &[Batch]) -> StoreResult<Vec<Vec<RunId>>> {
        batches.iter().map(|batch| self.commit(batch)).collect()
    }
    /// Frees the memory the backend keeps only for speed (SQLite's page cache), once a burst
    /// is over; it fills again as it is used. Nothing by default.
    fn release_memory(&self) {}
    /// Takes back the sends of claims whose lease passed (their dispatcher stopped or
    /// stalled): those whose request had left go back to `pending` with `check_first` set
    /// (their outcome is unknown); those whose request never left go back as they were,
    /// the claim's attempt not counted.
    fn recover_in_doubt(&self, now: Millis) -> StoreResult<Recovered>;
    /// Takes back, as `recover_in_doubt` does, every claim whose owner starts with
    /// `owner_prefix`, lease or not: for a caller that knows those owners are gone (the
    /// one `crier run` on an SQLite store, holding its service lock, after a crash).
    fn recover_claims_of(&self, owner_prefix: &str, now: Millis) -> StoreResult<Recovered>;
    /// Claims up to `limit` outbox rows due at `claim.now` (`pending` → `sending`, one
    /// attempt more) for `claim.owner` until `claim.lease_until`. No request has left for
    /// them yet: `mark_in_flight` records each one just before it does.
    fn claim_outbox(&self, claim: &Claim, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// Records that requests for `ids` are leaving now (and the first attempt's time).
    /// Returns the ids marked: those still claimed by `owner`; any other must not be sent.
    fn mark_in_flight(
        &self,
        owner: &str,
        ids: &[OutboxId],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>>;
    /// Extends the lease of the sends `ids` that `owner` still holds to `lease_until`;
    /// returns how many. (A claim its owner forgot, such as one whose mark failed, lapses.)
    fn renew_claims(
        &self,
        owner: &str,
        ids: &[OutboxId],
        lease_until: Millis,
        now: Millis,
    ) -> StoreResult<usize>;
    /// What a connector kept for send `id` while making it in several requests (a media
    /// container's id, an upload session's address), if anything: a later attempt, in any
    /// process, continues from it.
    fn send_handle(&self, id: OutboxId) -> StoreResult<Option<String>>;
    /// Keeps `handle` for send `id` (`None` forgets it) while `owner` holds its claim;
    /// whether it did (a send taken back meanwhile is left alone, and must not go on).
    fn keep_send_handle(
        &self,
        owner: &str,
        id: OutboxId,
        handle: Option<&str>,
        now: Millis,
    ) -> StoreResult<bool>;
    /// Records what happened to sends `owner` claimed and settles the runs they finish.
    /// A send no longer claimed by `owner` (its lease passed and it was taken back) is left
    /// alone: its id is returned, and its result is not recorded.
    fn finish_outbox(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>>;
    /// `finish_outbox(owner, outcomes)` then `mark_in_flight(owner, marks)`, as one
    /// commit where the backend can (SQLite does): the results of the requests that ended
    /// and the marks of those about to leave share one write to disk, and on an error
    /// neither is recorded. Returns what each of the two returns.
    fn finish_and_mark(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        marks: &[OutboxId],
        now: Millis,
    ) -> StoreResult<(Vec<OutboxId>, Vec<OutboxId>)> {
        let taken_back = self.finish_outbox(owner, outcomes, now)?;
        let marked = self.mark_in_flight(owner, marks, now)?;
        Ok((taken_back, marked))
    }
    /// The network's id of the latest post an item sent with an account (for replies).
    fn latest_remote_id(&self, key: &ItemKey, account: &str) -> StoreResult<Option<String>>;
    /// When the next pending outbox row is due.
    fn next_outbox_due(&self) -> StoreResult<Option<Millis>>;
    /// Steps waiting (`wait`, `approve`) whose time has come.
    fn waiting_steps_due(&self, now: Millis) -> StoreResult<Vec<WaitingStep>>;
    /// When the next waiting step wakes.
    fn next_wake(&self) -> StoreResult<Option<Millis>>;
    /// Moves a run on: closes its current step with `outcome`, then appends the outbox rows
    /// and the next waiting step (if any) the engine computed.
    fn advance_run(&self, advance: &RunAdvance, now: Millis) -> StoreResult<()>;
    /// Sends that count against the limits: sent or sending at or after `since`, and those
    /// due after `now` (placed there by a limit or a retry).
    /// (Direct messages and notices are left out: the limits do not count them.)
    fn send_slots(&self, since: Millis, now: Millis) -> StoreResult<Vec<SendSlot>>;
}

/// Playbook revisions, schedule cursors, and when the engine was last alive.
pub trait ScheduleStore: Send + Sync {
    /// Records a playbook revision (by content digest) and returns its id.
    fn record_revision(&self, digest: &str, now: Millis) -> StoreResult<i64>;
    /// When the engine was last known to be running (every commit records it).
    fn last_alive(&self) -> StoreResult<Option<Millis>>;
    /// When the first playbook revision was recorded: the day `crier run` first started on
    /// this store (what `day_one: first-run` counts from).
    fn first_started(&self) -> StoreResult<Option<Millis>>;
    /// The last fire handled for every item that has fired.
    fn cursors(&self) -> StoreResult<Vec<(ItemKey, Millis)>>;
    /// The `limit` latest fires, newest first (then by item), and how many items fired.
    fn latest_fires(&self, limit: usize) -> StoreResult<(Vec<(ItemKey, Millis)>, usize)>;
}

/// Approvals of posts (opened by `commit`, with the runs that notify the approvers).
pub trait ApprovalStore: Send + Sync {
    /// The approval of one fire of a post, if one was opened.
    fn approval_for(&self, key: &ItemKey, fire_at: Millis) -> StoreResult<Option<ApprovalView>>;
    fn approval(&self, id: i64) -> StoreResult<Option<ApprovalView>>;
    /// Every approval (only the pending ones if asked), by the post's time.
    fn approvals(&self, pending_only: bool) -> StoreResult<Vec<ApprovalView>>;
    /// Records a person's decision, settles the approval by its `need`, and wakes a run
    /// held waiting for it. Who may decide, and until when, is checked by the caller.
    fn decide(
        &self,
        id: i64,
        by: &str,
        decision: Decision,
        note: Option<&str>,
        now: Millis,
    ) -> StoreResult<ApprovalView>;
}

/// The kill switch: pauses, and the sends they hold.
pub trait PauseStore: Send + Sync {
    /// Records a pause; the dispatcher holds the sends it covers from its next claim on.
    fn pause(&self, pause: &NewPause, now: Millis) -> StoreResult<i64>;
    /// Lifts the pauses in force with exactly `scope` (every pause, for `All`); returns
    /// how many. Held sends are released by the service (`Engine::release_held`).
    fn resume(&self, scope: &PauseScope, by: &str, now: Millis) -> StoreResult<usize>;
    /// The pauses in force at `now`, oldest first.
    fn pauses(&self, now: Millis) -> StoreResult<Vec<PauseView>>;
    /// Every send a pause holds, by id.
    fn held_sends(&self) -> StoreResult<Vec<HeldSend>>;
    /// Sends held sends on (due at `now`) or drops them, and settles their runs. A send no
    /// longer held is left alone.
    fn release_held(&self, releases: &[(OutboxId, Release)], now: Millis) -> StoreResult<()>;
}

/// Contests: their state and entries, as JSON the `contest` module reads and writes.
pub trait ContestStore: Send + Sync {
    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>>;
    fn put_contest_state(&self, contest: &str, state: &str, now: Millis) -> StoreResult<()>;
    /// Every entry of a contest, `(key, entry)`, in the order first seen.
    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>>;
    /// The entries of a contest made at or before `made_by` and not read again at the
    /// close (`checked_at_close`), in the order first seen: what the freeze waits for,
    /// read without going through the entries checked already. (It may include an entry
    /// made within a millisecond after `made_by`: callers compare the exact time.)
    fn unchecked_entries(
        &self,
        contest: &str,
        made_by: Millis,
    ) -> StoreResult<Vec<(String, String)>>;
    /// The entries of a contest with these keys (those stored), in the order of `keys`:
    /// what a page of new entries is compared with, without reading every entry.
    fn contest_entries_of(
        &self,
        contest: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, String)>>;
    /// Adds entries, or replaces those already seen (same key), in one transaction.
    fn put_contest_entries(
        &self,
        contest: &str,
        entries: &[(String, String)],
        now: Millis,
    ) -> StoreResult<()>;
}

/// Crisis plans: runner states and incidents are written through `commit` (with the runs
/// and pauses they imply); mentions and people's actions arrive here.
pub trait CrisisStore: Send + Sync {
    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>>;
    /// Every crisis plan's stored state, by name.
    fn crisis_states(&self) -> StoreResult<Vec<(String, String)>>;
    /// Where `account`'s mentions were read up to for `plan`.
    fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>>;
    /// Stores mentions read for `plan` (each key once) and the cursor after them, together.
    /// Returns how many were new.
    fn add_crisis_mentions(
        &self,
        plan: &str,
        account: &str,
        mentions: &[NewMention],
        cursor: Option<&str>,
        now: Millis,
    ) -> StoreResult<usize>;
    /// Every one of `plan`'s mentions read after `after_seq` and made at or after `since`, in
    /// read order (for a look at all of them; the service reads them a page at a time).
    fn crisis_mentions(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
    ) -> StoreResult<Vec<StoredMention>> {
        self.crisis_mentions_page(plan, after_seq, since, usize::MAX)
    }
    /// At most `limit` of `plan`'s mentions read after `after_seq` and made at or after
    /// `since`, in read order: a caller going through many of them takes them a page at a
    /// time, and holds no more than a page.
    fn crisis_mentions_page(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredMention>>;
    /// Every incident, newest first.
    fn incidents(&self) -> StoreResult<Vec<IncidentRow>>;
    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>>;
    /// The id the next incident takes.
    fn next_incident_id(&self) -> StoreResult<i64>;
    /// Records a person's action on an incident, for the service to apply.
    fn add_incident_action(&self, incident: i64, action: &str, now: Millis) -> StoreResult<i64>;
    /// The actions on `plan`'s incidents not applied yet, oldest first.
    fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>>;
    fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>>;
}

/// Metrics snapshots of the accounts, and the posts they count.
pub trait MetricsStore: Send + Sync {
    /// Records a snapshot of `account`'s metrics taken at `at` (a second one at the same
    /// instant replaces the first).
    fn record_metrics(
        &self,
        account: &str,
        metrics: &AccountMetrics,
        at: Millis,
    ) -> StoreResult<()>;
    /// The latest snapshot of `account`, and when it was taken.
    fn latest_metrics(&self, account: &str) -> StoreResult<Option<(Millis, AccountMetrics)>>;
    /// The network ids of `account`'s posts sent at or after `since`, newest first, at most
    /// `limit` (what a metrics snapshot counts likes and replies of).
    fn recent_remote_ids(
        &self,
        account: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>>;
}

/// What people read: history, the rehearsal timeline, status.
pub trait ViewStore: Send + Sync {
    /// Every run matching the filter, newest first, with steps and outbox rows.
    fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<RunView>>;
    /// One page of runs as `filter` selects them, with steps and outbox rows: read from
    /// where the page starts (keyset), never counted from the newest run.
    fn runs_page(&self, filter: &RunsPageFilter) -> StoreResult<Vec<RunView>>;
    /// Run `id` with its steps and outbox rows.
    fn run_view(&self, id: RunId) -> StoreResult<Option<RunView>>;
    /// The runs fired at or after `from` and before `until`, oldest first, each as the
    /// calendar marks it (post, fire time, state); no step or send is read.
    fn run_marks(&self, from: Millis, until: Millis) -> StoreResult<Vec<RunMark>>;
    /// People's actions stored after the one numbered `after`, oldest first, at most `limit`.
    fn actions_after(&self, after: i64, limit: usize) -> StoreResult<Vec<ActionRecord>>;
    /// The number of the latest action stored (0 if none).
    fn latest_action(&self) -> StoreResult<i64>;
    /// Every run with each of its sends, oldest first, in one pass (for rehearsal reports).
    fn timeline(&self) -> StoreResult<Vec<TimelineRow>> {
        self.timeline_between(Millis::MIN, Millis::MAX)
    }
    /// `timeline`, of the runs fired at or after `from` and before `until` (a rehearsal
    /// reads it a stretch at a time).
    fn timeline_between(&self, from: Millis, until: Millis) -> StoreResult<Vec<TimelineRow>>;
    /// Counts and the rows still in flight, for `crier status`.
    fn status(&self) -> StoreResult<StatusView>;
}

/// The whole store, every aggregate: what the engine, the service and the views hold (as
/// `&dyn Store` or `Arc<dyn Store>`). Every method is one transaction. A backend implements
/// the aggregates' traits; `Store` comes with them.
pub trait Store:
    RunStore
    + ScheduleStore
    + ApprovalStore
    + PauseStore
    + ContestStore
    + CrisisStore
    + MetricsStore
    + ViewStore
    + TokenStore
    + LinkStore
    + SessionStore
{
}

impl<T> Store for T where
    T: RunStore
        + ScheduleStore
        + ApprovalStore
        + PauseStore
        + ContestStore
        + CrisisStore
        + MetricsStore
        + ViewStore
        + TokenStore
        + LinkStore
        + SessionStore
        + ?Sized
{
}
