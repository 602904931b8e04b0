//! The store: runs, steps, the outbox, schedule cursors and the audit log. Everything the
//! engine must not forget goes here *before* anything visible happens ("durable before
//! visible"). The embedded default is SQLite (`sqlite/`); the trait is what a PostgreSQL
//! store implements next, so the claiming SQL stays compatible with `FOR UPDATE SKIP LOCKED`.
//! `memory` is the same store in plain collections, for rehearsals and tests: it behaves
//! exactly like SQLite (`tests/store.rs` holds both to one suite) and keeps nothing.

pub mod memory;
mod model;
pub mod sqlite;
mod tokens;

pub use memory::MemoryStore;
pub use model::*;
pub use sqlite::SqliteStore;
pub use tokens::{NewToken, TokenRow, TokenStore};

/// What went wrong talking to the store. Its message is shown to people as it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store `{location}`: {reason}")]
    Open { location: String, reason: String },
    #[error("the store failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the store holds a value crier cannot read: {0}")]
    Corrupt(String),
    #[error("unsupported store `{0}`: use `sqlite://PATH` (PostgreSQL is not supported yet)")]
    Unsupported(String),
    #[error(
        "another `crier run` is using the store `{location}` (pid {pid}); run one service per store"
    )]
    InUse { location: String, pid: String },
}

/// Held by `crier run` for as long as it runs: an exclusive lock on `<store file>.lock`, so
/// a second service on the same store refuses to start (it would take the first one's
/// in-flight sends for ones left in doubt). The operating system releases the lock when the
/// process ends, however it ends, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub struct ServiceLock {
    _file: std::fs::File,
}

/// Takes the service lock of the store `url` names (none for in-memory stores).
pub fn lock_service(url: &str, base: &std::path::Path) -> StoreResult<Option<ServiceLock>> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Ok(None);
    };
    let path = base.join(path);
    let lock_path = path.with_extension(match path.extension() {
        Some(ext) => format!("{}.lock", ext.to_string_lossy()),
        None => "lock".into(),
    });
    let open_error = |err: std::io::Error| StoreError::Open {
        location: lock_path.display().to_string(),
        reason: err.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(open_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(StoreError::InUse {
                location: path.display().to_string(),
                pid: match pid.trim() {
                    "" => "unknown".into(),
                    pid => pid.to_owned(),
                },
            });
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(open_error(err)),
    }
    use std::io::Write as _;
    file.set_len(0).map_err(open_error)?;
    write!(file, "{}", std::process::id()).map_err(open_error)?;
    Ok(Some(ServiceLock { _file: file }))
}

pub type StoreResult<T> = Result<T, StoreError>;

pub use crate::script::AccountMetrics;

/// The engine's view of durable state. Every method is one transaction.
pub trait Store: TokenStore + Send + Sync {
    /// Records a playbook revision (by content digest) and returns its id.
    fn record_revision(&self, digest: &str, now: Millis) -> StoreResult<i64>;
    /// When the engine was last known to be running (every commit records it).
    fn last_alive(&self) -> StoreResult<Option<Millis>>;
    /// When the first playbook revision was recorded: the day `crier run` first started on
    /// this store (what `day_one: first-run` counts from).
    fn first_started(&self) -> StoreResult<Option<Millis>>;
    /// The last fire handled for every item that has fired.
    fn cursors(&self) -> StoreResult<Vec<(ItemKey, Millis)>>;
    /// Commits new runs (with steps and outbox rows) and advanced cursors together, and
    /// records that the engine was alive at `batch.now`. A run whose (playbook, item, fire time) exists already is left alone.
    fn commit(&self, batch: &Batch) -> StoreResult<Vec<RunId>>;
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
    /// Records what happened to sends `owner` claimed and settles the runs they finish.
    /// A send no longer claimed by `owner` (its lease passed and it was taken back) is left
    /// alone: its id is returned, and its result is not recorded.
    fn finish_outbox(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>>;
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
    /// Every run matching the filter, newest first, with steps and outbox rows.
    fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<RunView>>;
    /// Every run with each of its sends, oldest first, in one pass (for rehearsal reports).
    fn timeline(&self) -> StoreResult<Vec<TimelineRow>>;
    /// Counts and the rows still in flight, for `crier status`.
    fn status(&self) -> StoreResult<StatusView>;
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

    // The kill switch.

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

    // The posting rules' limits.

    /// Sends that count against the limits: sent or sending at or after `since`, and those
    /// due after `now` (placed there by a limit or a retry).
    /// (Direct messages and notices are left out: the limits do not count them.)
    fn send_slots(&self, since: Millis, now: Millis) -> StoreResult<Vec<SendSlot>>;

    // Approvals of posts (opened by `commit`, with the runs that notify the approvers).

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

    // Contests: their state and entries, as JSON the `contest` module reads and writes.

    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>>;
    fn put_contest_state(&self, contest: &str, state: &str, now: Millis) -> StoreResult<()>;
    /// Every entry of a contest, `(key, entry)`, in the order first seen.
    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>>;
    /// Adds entries, or replaces those already seen (same key), in one transaction.
    fn put_contest_entries(
        &self,
        contest: &str,
        entries: &[(String, String)],
        now: Millis,
    ) -> StoreResult<()>;

    // Crisis plans: runner states and incidents are written through `commit` (with the runs
    // and pauses they imply); mentions and people's actions arrive here.

    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>>;
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
    /// `plan`'s mentions read after `after_seq` and made at or after `since`, in read order.
    fn crisis_mentions(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
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

/// The day `crier run` first started on the store `plan` names, in the plan's time zone,
/// without creating or changing anything: `None` when there is no store yet (or it names a
/// server, which `crier run` must be started against first).
pub fn first_run_day(plan: &crate::playbook::plan::Plan) -> StoreResult<Option<chrono::NaiveDate>> {
    let Some(path) = plan.store.strip_prefix("sqlite://") else {
        return Ok(None);
    };
    let path = plan.root.join(path);
    if !path.exists() {
        return Ok(None);
    }
    let store = SqliteStore::open_read_only(&path)?;
    Ok(store.first_started()?.map(|at| {
        chrono::DateTime::from_timestamp_millis(at)
            .unwrap_or_default()
            .with_timezone(&plan.timezone)
            .date_naive()
    }))
}

/// Opens the store a `store:` URL names: `sqlite://PATH` (relative to `base`), or
/// `sqlite::memory:` for rehearsals.
pub fn open(url: &str, base: &std::path::Path) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url == "sqlite::memory:" {
        return Ok(std::sync::Arc::new(SqliteStore::in_memory()?));
    }
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let path = std::path::Path::new(path);
            let path = if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            };
            Ok(std::sync::Arc::new(SqliteStore::open(&path)?))
        }
        None => Err(StoreError::Unsupported(url.to_string())),
    }
}
