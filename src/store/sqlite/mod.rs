//! The embedded default store: one SQLite file in WAL mode, migrations by `user_version`,
//! SQL beside the code that runs it. One connection behind a mutex: every call is one short
//! transaction, and batching (claiming many sends at once) keeps it fast.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::model::*;
use super::{AccountMetrics, Store, StoreError, StoreResult};
use crate::connectors::OutgoingPost;

mod tokens;

/// Append only: a store's `user_version` is how many of these it has applied, in order.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_init.sql"),
    include_str!("0002_alive.sql"),
    include_str!("0003_metrics.sql"),
    include_str!("0004_holds.sql"),
    include_str!("0005_contests.sql"),
    include_str!("0007_approvals.sql"),
    include_str!("0008_incidents.sql"),
    include_str!("0009_claims.sql"),
    include_str!("0010_tokens.sql"),
];
const CLAIM_OUTBOX: &str = include_str!("claim_outbox.sql");
const SETTLE_RUN: &str = include_str!("settle_run.sql");

pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) a store file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let open_error = |reason: String| StoreError::Open {
            location: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let connection = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        // Before the first statement: switching a new file to WAL takes a lock that another
        // process opening the same new store may hold for a moment.
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_error(e.to_string()))?;
        // FULL: a committed intent survives power loss, not only a crash of crier.
        connection.pragma_update(None, "synchronous", "FULL")?;
        Self::prepare(connection)
    }

    /// Opens an existing store file for reading only: nothing is created, migrated or
    /// written, so it works on a read-only file system and beside a running service.
    pub fn open_read_only(path: &Path) -> StoreResult<SqliteStore> {
        let connection = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            location: path.display().to_string(),
            reason: e.to_string(),
        })?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    /// A store that lives in memory only (tests; a service's throwaway engine): no file.
    pub fn in_memory() -> StoreResult<SqliteStore> {
        let connection = Connection::open_in_memory()?;
        // The journal stays (in memory, SQLite's default here): with `journal_mode=OFF` a
        // call that fails half-way could not be rolled back and left half its writes.
        Self::prepare(connection)
    }

    fn prepare(connection: Connection) -> StoreResult<SqliteStore> {
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = SqliteStore {
            connection: Mutex::new(connection),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut connection = self.lock();
        // One writer at a time, and the version read inside its transaction: two processes
        // opening a new store together must not both apply the same migration.
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "the store's schema is version {version}, newer than this crier knows ({}); upgrade crier",
                MIGRATIONS.len()
            )));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether the store's schema is the one this crier writes (a store last used by an
    /// older crier is brought up to date by the next `crier run`).
    pub fn is_current(&self) -> StoreResult<bool> {
        let connection = self.lock();
        let version: usize =
            connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        Ok(version == MIGRATIONS.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no transaction open (rusqlite rolls back on
        // drop), so the connection is still good.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn transaction<T>(&self, work: impl FnOnce(&Transaction) -> StoreResult<T>) -> StoreResult<T> {
        let mut connection = self.lock();
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store records serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn insert_outbox(
    tx: &Transaction,
    run_id: RunId,
    rows: &[NewOutbox],
    now: Millis,
) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (run_id, step, account, idempotency_key, payload, state, next_attempt_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )?;
    for row in rows {
        insert.execute(params![
            run_id,
            row.step as i64,
            row.account,
            row.post.idempotency_key,
            to_json(&row.post),
            row.due,
            now
        ])?;
    }
    Ok(())
}

/// Takes back the claimed sends `which` selects (`?1` is now): those whose request had left
/// are in doubt (`check_first`); the others go back as they were, the attempt not counted.
fn recover(
    tx: &Transaction,
    which: &str,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<Recovered> {
    let in_doubt = tx.execute(
        &format!(
            "UPDATE outbox SET state = 'pending', check_first = 1, next_attempt_at = ?1,
                    claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?1
              WHERE {which} AND in_flight_at IS NOT NULL"
        ),
        params,
    )?;
    let unstarted = tx.execute(
        &format!(
            "UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?1,
                    claimed_by = NULL, lease_until = NULL, updated_at = ?1
              WHERE {which} AND in_flight_at IS NULL"
        ),
        params,
    )?;
    Ok(Recovered {
        in_doubt,
        unstarted,
    })
}

fn settle(tx: &Transaction, run_id: RunId, now: Millis) -> StoreResult<()> {
    tx.prepare_cached(SETTLE_RUN)?
        .execute(params![run_id, now])?;
    Ok(())
}

impl Store for SqliteStore {
    fn record_revision(&self, digest: &str, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO revisions (digest, loaded_at) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING",
                params![digest, now],
            )?;
            Ok(tx.query_row("SELECT id FROM revisions WHERE digest = ?1", [digest], |row| row.get(0))?)
        })
    }

    fn last_alive(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached("SELECT at FROM alive WHERE id = 1")?;
        let mut rows = query.query([])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }

    fn first_started(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        Ok(connection.query_row("SELECT MIN(loaded_at) FROM revisions", [], |row| row.get(0))?)
    }

    fn cursors(&self) -> StoreResult<Vec<(ItemKey, Millis)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT playbook, item, last_fire FROM cursors ORDER BY playbook, item",
        )?;
        let rows = query.query_map([], |row| {
            Ok((
                ItemKey::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                row.get(2)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn commit(&self, batch: &Batch) -> StoreResult<Vec<RunId>> {
        let now = batch.now;
        self.transaction(|tx| {
            let mut ids = Vec::with_capacity(batch.runs.len());
            {
                let mut insert_run = tx.prepare_cached(
                    "INSERT INTO runs (playbook, item, fire_at, revision, state, reason, steps, current_step, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                     ON CONFLICT (playbook, item, fire_at) DO NOTHING",
                )?;
                let mut insert_step = tx.prepare_cached(
                    "INSERT INTO steps (run_id, idx, kind, state, wake_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for run in &batch.runs {
                    let inserted = insert_run.execute(params![
                        run.key.playbook,
                        run.key.item,
                        run.fire_at,
                        run.revision,
                        run.state.as_str(),
                        run.reason,
                        to_json(&run.steps),
                        run.current_step as i64,
                        now,
                    ])?;
                    if inserted == 0 {
                        continue; // this fire was recorded before (a restart raced it)
                    }
                    let id = tx.last_insert_rowid();
                    for (index, step) in run.steps.iter().enumerate() {
                        let (state, wake_at) = if index < run.current_step {
                            (StepState::Done, None)
                        } else if index == run.current_step && run.wake_at.is_some() {
                            (StepState::Waiting, run.wake_at)
                        } else if matches!(run.state, RunState::Skipped | RunState::Missed) {
                            (StepState::Skipped, None)
                        } else {
                            (StepState::Pending, None)
                        };
                        insert_step.execute(params![id, index as i64, step.kind(), state.as_str(), wake_at, now])?;
                    }
                    insert_outbox(tx, id, &run.outbox, now)?;
                    if run.outbox.is_empty() {
                        settle(tx, id, now)?;
                    }
                    ids.push(id);
                }
            }
            tx.prepare_cached(
                "INSERT INTO alive (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = max(at, excluded.at)",
            )?
            .execute([now])?;
            let mut cursor = tx.prepare_cached(
                "INSERT INTO cursors (playbook, item, last_fire) VALUES (?1, ?2, ?3)
                 ON CONFLICT (playbook, item) DO UPDATE SET last_fire = max(last_fire, excluded.last_fire)",
            )?;
            for (key, at) in &batch.cursors {
                cursor.execute(params![key.playbook, key.item, at])?;
            }
            let mut approval = tx.prepare_cached(
                "INSERT INTO approvals (playbook, item, fire_at, approvers, need, deadline, on_timeout, text, accounts, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?10)
                 ON CONFLICT (playbook, item, fire_at) DO NOTHING",
            )?;
            for request in &batch.approvals {
                approval.execute(params![
                    request.key.playbook,
                    request.key.item,
                    request.fire_at,
                    to_json(&request.approvers),
                    request.need,
                    request.deadline,
                    request.on_timeout,
                    request.text,
                    to_json(&request.accounts),
                    now
                ])?;
            }
            for pause in &batch.pauses {
                insert_pause(tx, pause, now)?;
            }
            for resume in &batch.resumes {
                lift_pauses(tx, &resume.scope, &resume.by, resume.paused_by.as_deref(), now)?;
            }
            for write in &batch.crisis {
                write_crisis(tx, write, now)?;
            }
            Ok(ids)
        })
    }

    fn recover_in_doubt(&self, now: Millis) -> StoreResult<Recovered> {
        self.transaction(|tx| {
            recover(
                tx,
                "state = 'sending' AND (lease_until IS NULL OR lease_until <= ?1)",
                params![now],
            )
        })
    }

    fn recover_claims_of(&self, owner_prefix: &str, now: Millis) -> StoreResult<Recovered> {
        self.transaction(|tx| {
            recover(
                tx,
                "state = 'sending' AND substr(claimed_by, 1, length(?2)) = ?2",
                params![now, owner_prefix],
            )
        })
    }

    fn claim_outbox(&self, claim: &Claim, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let skip = to_json(&claim.skip_accounts);
        self.transaction(|tx| {
            let mut statement = tx.prepare_cached(CLAIM_OUTBOX)?;
            let rows = statement.query_map(
                params![
                    claim.now,
                    limit as i64,
                    claim.run,
                    claim.owner,
                    claim.lease_until,
                    skip
                ],
                |row| {
                    Ok((
                        (
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, String>(4)?,
                        ),
                        (
                            row.get::<_, i64>(5)?,
                            row.get::<_, bool>(6)?,
                            row.get::<_, bool>(7)?,
                            row.get::<_, Option<i64>>(8)?,
                        ),
                    ))
                },
            )?;
            let mut claimed = Vec::new();
            for row in rows {
                let (
                    (id, run_id, step, account, payload),
                    (attempts, check_first, reserved, first_attempt_at),
                ) = row?;
                claimed.push(OutboxRow {
                    id,
                    run_id,
                    step: step as usize,
                    account,
                    post: from_json::<OutgoingPost>(&payload)?,
                    attempts: attempts as u32,
                    check_first,
                    reserved,
                    first_attempt_at,
                });
            }
            claimed.sort_by_key(|row| row.id);
            Ok(claimed)
        })
    }

    fn mark_in_flight(
        &self,
        owner: &str,
        ids: &[OutboxId],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|tx| {
            let mut mark = tx.prepare_cached(
                "UPDATE outbox SET in_flight_at = ?3, first_attempt_at = coalesce(first_attempt_at, ?3), updated_at = ?3
                  WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2",
            )?;
            let mut marked = Vec::with_capacity(ids.len());
            for id in ids {
                if mark.execute(params![id, owner, now])? == 1 {
                    marked.push(*id);
                }
            }
            Ok(marked)
        })
    }

    fn renew_claims(
        &self,
        owner: &str,
        ids: &[OutboxId],
        lease_until: Millis,
        now: Millis,
    ) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.transaction(|tx| {
            let mut renew = tx.prepare_cached(
                "UPDATE outbox SET lease_until = ?3, updated_at = ?4
                  WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2",
            )?;
            let mut renewed = 0;
            for id in ids {
                renewed += renew.execute(params![id, owner, lease_until, now])?;
            }
            Ok(renewed)
        })
    }

    fn finish_outbox(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|tx| {
            let mut runs = Vec::new();
            let mut not_ours = Vec::new();
            {
                // Each update touches the send only while `owner` still holds its claim.
                let ours = "id = ?1 AND state = 'sending' AND claimed_by = ?2";
                let released = "claimed_by = NULL, lease_until = NULL, in_flight_at = NULL";
                let mut sent = tx.prepare_cached(&format!(
                    "UPDATE outbox SET state = 'sent', remote_id = ?3, error = NULL, check_first = 0, {released}, updated_at = ?4 WHERE {ours} RETURNING run_id"
                ))?;
                let mut retry = tx.prepare_cached(&format!(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?3, error = ?4, check_first = ?5, {released}, updated_at = ?6 WHERE {ours} RETURNING run_id"
                ))?;
                let mut failed = tx.prepare_cached(&format!(
                    "UPDATE outbox SET state = 'failed', error = ?3, {released}, updated_at = ?4 WHERE {ours} RETURNING run_id"
                ))?;
                let mut attempt = tx.prepare_cached(
                    "INSERT INTO attempts (outbox_id, at, outcome, detail) VALUES (?1, ?2, ?3, ?4)",
                )?;
                // Held and deferred sends made no attempt: the claim's count is taken back.
                let mut held = tx.prepare_cached(&format!(
                    "UPDATE outbox SET state = 'held', attempts = attempts - 1, note = ?3, {released}, updated_at = ?4 WHERE {ours} RETURNING run_id"
                ))?;
                let mut deferred = tx.prepare_cached(&format!(
                    "UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?3, note = ?4, {released}, updated_at = ?5 WHERE {ours} RETURNING run_id"
                ))?;
                let get = |row: &rusqlite::Row| row.get::<_, i64>(0);
                for (id, outcome) in outcomes {
                    let run_id: Option<i64> = match outcome {
                        // A success is on the outbox row itself (state, remote id,
                        // attempts); the log keeps what went wrong.
                        OutboxOutcome::Sent { remote_id } => sent
                            .query_row(params![id, owner, remote_id, now], get)
                            .optional()?,
                        OutboxOutcome::Retry { at, error, check_first } => {
                            let run_id = retry
                                .query_row(
                                    params![id, owner, at, error, check_first, now],
                                    get,
                                )
                                .optional()?;
                            if run_id.is_some() {
                                attempt.execute(params![id, now, "retry", error])?;
                            }
                            run_id
                        }
                        OutboxOutcome::Failed { error } => {
                            let run_id = failed
                                .query_row(params![id, owner, error, now], get)
                                .optional()?;
                            if run_id.is_some() {
                                attempt.execute(params![id, now, "failed", error])?;
                            }
                            run_id
                        }
                        OutboxOutcome::Held { note } => held
                            .query_row(params![id, owner, note, now], get)
                            .optional()?,
                        OutboxOutcome::Deferred { at, note } => deferred
                            .query_row(params![id, owner, at, note, now], get)
                            .optional()?,
                    };
                    match run_id {
                        Some(run_id) => runs.push(run_id),
                        None => not_ours.push(*id),
                    }
                }
            }
            runs.sort_unstable();
            runs.dedup();
            for run_id in runs {
                settle(tx, run_id, now)?;
            }
            Ok(not_ours)
        })
    }

    fn record_metrics(
        &self,
        account: &str,
        metrics: &AccountMetrics,
        at: Millis,
    ) -> StoreResult<()> {
        let connection = self.lock();
        connection
            .prepare_cached(
                "INSERT OR REPLACE INTO metrics
                   (account, taken_at, followers, posts, likes, reposts, replies)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                account,
                at,
                metrics.followers,
                metrics.posts,
                metrics.likes,
                metrics.reposts,
                metrics.replies
            ])?;
        Ok(())
    }

    fn latest_metrics(&self, account: &str) -> StoreResult<Option<(Millis, AccountMetrics)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT taken_at, followers, posts, likes, reposts, replies FROM metrics
              WHERE account = ?1 ORDER BY taken_at DESC LIMIT 1",
        )?;
        let mut rows = query.query(params![account])?;
        Ok(match rows.next()? {
            Some(row) => Some((
                row.get(0)?,
                AccountMetrics {
                    followers: row.get(1)?,
                    posts: row.get(2)?,
                    likes: row.get(3)?,
                    reposts: row.get(4)?,
                    replies: row.get(5)?,
                },
            )),
            None => None,
        })
    }

    fn recent_remote_ids(
        &self,
        account: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT remote_id FROM outbox
              WHERE account = ?1 AND state = 'sent' AND updated_at >= ?2 AND remote_id IS NOT NULL
              ORDER BY updated_at DESC, id DESC LIMIT ?3",
        )?;
        let ids = query
            .query_map(params![account, since, limit as i64], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn latest_remote_id(&self, key: &ItemKey, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT o.remote_id FROM outbox o JOIN runs r ON r.id = o.run_id
              WHERE r.playbook = ?1 AND r.item = ?2 AND o.account = ?3 AND o.state = 'sent'
              ORDER BY r.fire_at DESC, o.id LIMIT 1",
        )?;
        let mut rows = query.query(params![key.playbook, key.item, account])?;
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => None,
        })
    }

    fn next_outbox_due(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query = connection
            .prepare_cached("SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'")?;
        Ok(query.query_row([], |row| row.get(0))?)
    }

    fn waiting_steps_due(&self, now: Millis) -> StoreResult<Vec<WaitingStep>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT r.id, r.playbook, r.item, r.fire_at, s.idx, r.steps
               FROM steps s JOIN runs r ON r.id = s.run_id
              WHERE s.state = 'waiting' AND s.wake_at <= ?1
              ORDER BY s.wake_at, r.id, s.idx",
        )?;
        let rows = query.query_map([now], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?;
        let mut waiting = Vec::new();
        for row in rows {
            let (run_id, playbook, item, fire_at, step, steps) = row?;
            waiting.push(WaitingStep {
                run_id,
                key: ItemKey::new(playbook, item),
                fire_at,
                step: step as usize,
                steps: from_json(&steps)?,
            });
        }
        Ok(waiting)
    }

    fn next_wake(&self) -> StoreResult<Option<Millis>> {
        let connection = self.lock();
        let mut query =
            connection.prepare_cached("SELECT min(wake_at) FROM steps WHERE state = 'waiting'")?;
        Ok(query.query_row([], |row| row.get(0))?)
    }

    fn advance_run(&self, advance: &RunAdvance, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            let mut set_step = tx.prepare_cached(
                "UPDATE steps SET state = ?3, reason = ?4, wake_at = ?5, updated_at = ?6 WHERE run_id = ?1 AND idx = ?2",
            )?;
            let changed = tx.prepare_cached(
                "UPDATE steps SET state = ?3, reason = ?4, wake_at = NULL, updated_at = ?5
                  WHERE run_id = ?1 AND idx = ?2 AND state IN ('waiting', 'pending')",
            )?.execute(params![advance.run_id, advance.step as i64, advance.outcome.as_str(), advance.reason, now],
            )?;
            if changed == 0 {
                return Ok(()); // already moved on (a decision and a timeout raced)
            }
            for (index, state) in &advance.passed {
                set_step.execute(params![advance.run_id, *index as i64, state.as_str(), Option::<String>::None, Option::<i64>::None, now])?;
            }
            if let Some(wake_at) = advance.wake_at {
                set_step.execute(params![advance.run_id, advance.current_step as i64, StepState::Waiting.as_str(), Option::<String>::None, wake_at, now])?;
            }
            let (state, reason) = match (&advance.finish, advance.wake_at) {
                (Some((state, reason)), _) => (*state, Some(reason.clone())),
                (None, Some(_)) => (RunState::Waiting, None),
                (None, None) => (RunState::Running, None),
            };
            tx.prepare_cached(
                "UPDATE runs SET current_step = ?2, state = ?3, reason = coalesce(?4, reason), updated_at = ?5 WHERE id = ?1",
            )?.execute(params![advance.run_id, advance.current_step as i64, state.as_str(), reason, now],
            )?;
            insert_outbox(tx, advance.run_id, &advance.outbox, now)?;
            settle(tx, advance.run_id, now)?;
            Ok(())
        })
    }

    fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<RunView>> {
        let connection = self.lock();
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let mut query = connection.prepare_cached(
            "SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
              WHERE (?1 IS NULL OR playbook = ?1) AND (?2 IS NULL OR fire_at >= ?2)
              ORDER BY fire_at DESC, id DESC LIMIT ?3",
        )?;
        let runs = query
            .query_map(params![filter.playbook, filter.since, limit], run_view)?
            .collect::<Result<Vec<_>, _>>()?;
        runs.into_iter()
            .map(|run| with_details(&connection, run))
            .collect()
    }

    fn timeline(&self) -> StoreResult<Vec<TimelineRow>> {
        let connection = self.lock();
        let mut query = connection.prepare(
            "SELECT r.fire_at, r.playbook, r.item, r.state, r.reason, o.account, o.state, json_extract(o.payload, '$.text'), o.error,
                    json_extract(o.payload, '$.reply_to'), o.remote_id, o.updated_at, o.note
               FROM runs r LEFT JOIN outbox o ON o.run_id = r.id
              ORDER BY r.fire_at, r.id, o.step, o.id",
        )?;
        let rows = query.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, Option<String>>(9)?,
                row.get::<_, Option<String>>(10)?,
                row.get::<_, Option<i64>>(11)?,
                row.get::<_, Option<String>>(12)?,
            ))
        })?;
        let mut timeline = Vec::new();
        for row in rows {
            let (
                fire_at,
                playbook,
                item,
                state,
                reason,
                account,
                send_state,
                text,
                error,
                reply_to,
                remote_id,
                updated_at,
                note,
            ) = row?;
            let send = match (account, send_state, text) {
                (Some(account), Some(send_state), Some(text)) => Some(TimelineSend {
                    account,
                    state: OutboxState::parse(&send_state).unwrap_or(OutboxState::Failed),
                    text,
                    error,
                    reply_to,
                    remote_id,
                    updated_at: updated_at.unwrap_or_default(),
                    note,
                }),
                _ => None,
            };
            timeline.push(TimelineRow {
                fire_at,
                playbook,
                item,
                state: RunState::parse(&state).unwrap_or(RunState::Failed),
                reason,
                send,
            });
        }
        Ok(timeline)
    }

    fn status(&self) -> StoreResult<StatusView> {
        let connection = self.lock();
        let counts = |sql: &str| -> StoreResult<Vec<(String, i64)>> {
            let mut query = connection.prepare(sql)?;
            let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let runs = counts("SELECT state, count(*) FROM runs GROUP BY state ORDER BY state")?;
        let outbox = counts("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY state")?;
        let mut query = connection.prepare(
            "SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
              WHERE state IN ('running', 'waiting') ORDER BY fire_at, id LIMIT 100",
        )?;
        let in_flight = query
            .query_map([], run_view)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(query);
        let in_flight = in_flight
            .into_iter()
            .map(|run| with_details(&connection, run))
            .collect::<StoreResult<_>>()?;
        Ok(StatusView {
            runs,
            outbox,
            in_flight,
        })
    }

    fn pause(&self, pause: &NewPause, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| insert_pause(tx, pause, now))
    }

    fn resume(&self, scope: &PauseScope, by: &str, now: Millis) -> StoreResult<usize> {
        self.transaction(|tx| lift_pauses(tx, scope, by, None, now))
    }

    fn pauses(&self, now: Millis) -> StoreResult<Vec<PauseView>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT id, scope, name, until, reason, paused_by, created_at FROM pauses
              WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1) ORDER BY id",
        )?;
        let rows = query
            .query_map([now], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, kind, name, until, reason, by, created_at)| {
                let scope = PauseScope::from_parts(&kind, name).ok_or_else(|| {
                    StoreError::Corrupt(format!("pause {id} has an unknown scope `{kind}`"))
                })?;
                Ok(PauseView {
                    id,
                    scope,
                    until,
                    reason,
                    by,
                    created_at,
                })
            })
            .collect()
    }

    fn held_sends(&self) -> StoreResult<Vec<HeldSend>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT o.id, o.run_id, r.playbook, r.item, r.fire_at, o.account
               FROM outbox o JOIN runs r ON r.id = o.run_id
              WHERE o.state = 'held' ORDER BY o.id",
        )?;
        let rows = query.query_map([], |row| {
            Ok(HeldSend {
                id: row.get(0)?,
                run_id: row.get(1)?,
                key: ItemKey::new(row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                fire_at: row.get(4)?,
                account: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn release_held(&self, releases: &[(OutboxId, Release)], now: Millis) -> StoreResult<()> {
        if releases.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut runs = Vec::new();
            {
                let mut send = tx.prepare_cached(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, note = NULL, updated_at = ?2
                      WHERE id = ?1 AND state = 'held' RETURNING run_id",
                )?;
                let mut skip = tx.prepare_cached(
                    "UPDATE outbox SET state = 'skipped', note = ?2, updated_at = ?3
                      WHERE id = ?1 AND state = 'held' RETURNING run_id",
                )?;
                for (id, release) in releases {
                    let run_id: Option<i64> = match release {
                        Release::Send => send
                            .query_row(params![id, now], |row| row.get(0))
                            .optional()?,
                        Release::Skip { reason } => skip
                            .query_row(params![id, reason, now], |row| row.get(0))
                            .optional()?,
                    };
                    runs.extend(run_id);
                }
            }
            runs.sort_unstable();
            runs.dedup();
            for run_id in runs {
                settle(tx, run_id, now)?;
            }
            Ok(())
        })
    }

    fn send_slots(&self, since: Millis, now: Millis) -> StoreResult<Vec<SendSlot>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT o.id, o.account, r.playbook,
                    CASE WHEN o.state = 'pending' THEN o.next_attempt_at ELSE o.claimed_at END
               FROM outbox o JOIN runs r ON r.id = o.run_id
              WHERE ((o.state IN ('sent', 'sending') AND o.claimed_at >= ?1)
                  OR (o.state = 'pending' AND o.next_attempt_at > ?2))
                -- Direct messages and notices to the team are not posts: no limit counts them.
                AND json_extract(o.payload, '$.direct_to') IS NULL
                AND coalesce(json_extract(o.payload, '$.notice'), 0) = 0
              ORDER BY o.id",
        )?;
        let rows = query.query_map(params![since, now], |row| {
            Ok(SendSlot {
                id: row.get(0)?,
                account: row.get(1)?,
                playbook: row.get(2)?,
                at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn approval_for(&self, key: &ItemKey, fire_at: Millis) -> StoreResult<Option<ApprovalView>> {
        let connection = self.lock();
        let id: Option<i64> = connection
            .prepare_cached(
                "SELECT id FROM approvals WHERE playbook = ?1 AND item = ?2 AND fire_at = ?3",
            )?
            .query_row(params![key.playbook, key.item, fire_at], |row| row.get(0))
            .optional()?;
        id.map(|id| approval_view(&connection, id)).transpose()
    }

    fn approval(&self, id: i64) -> StoreResult<Option<ApprovalView>> {
        let connection = self.lock();
        let exists: Option<i64> = connection
            .prepare_cached("SELECT id FROM approvals WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        exists.map(|id| approval_view(&connection, id)).transpose()
    }

    fn approvals(&self, pending_only: bool) -> StoreResult<Vec<ApprovalView>> {
        let connection = self.lock();
        let ids: Vec<i64> = connection
            .prepare_cached(
                "SELECT id FROM approvals WHERE (?1 = 0 OR state = 'pending') ORDER BY fire_at, id",
            )?
            .query_map([pending_only], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        ids.into_iter()
            .map(|id| approval_view(&connection, id))
            .collect()
    }

    fn decide(
        &self,
        id: i64,
        by: &str,
        decision: Decision,
        note: Option<&str>,
        now: Millis,
    ) -> StoreResult<ApprovalView> {
        self.transaction(|tx| {
            tx.prepare_cached(
                "INSERT INTO approval_decisions (approval_id, person, decision, note, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, by, decision.as_str(), note, now])?;
            let mut view = approval_view(tx, id)?;
            let state = view.state_from_decisions();
            if state != view.state {
                view.state = state;
                tx.prepare_cached("UPDATE approvals SET state = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, state.as_str(), now])?;
                // A run held at this approval wakes now.
                tx.prepare_cached(
                    "UPDATE steps SET wake_at = ?4, updated_at = ?4
                      WHERE state = 'waiting' AND kind = 'approve'
                        AND run_id = (SELECT id FROM runs WHERE playbook = ?1 AND item = ?2 AND fire_at = ?3)",
                )?
                .execute(params![view.playbook, view.item, view.fire_at, now])?;
            }
            Ok(view)
        })
    }

    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT state FROM contests WHERE name = ?1")?
            .query_row([contest], |row| row.get(0))
            .optional()?)
    }

    fn put_contest_state(&self, contest: &str, state: &str, now: Millis) -> StoreResult<()> {
        self.transaction(|tx| {
            tx.prepare_cached(
                "INSERT INTO contests (name, state, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )?
            .execute(params![contest, state, now])?;
            Ok(())
        })
    }

    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT key, entry FROM contest_entries WHERE contest = ?1 ORDER BY first_seen, key",
        )?;
        let rows = query.query_map([contest], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_contest_entries(
        &self,
        contest: &str,
        entries: &[(String, String)],
        now: Millis,
    ) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut put = tx.prepare_cached(
                "INSERT INTO contest_entries (contest, key, entry, first_seen, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (contest, key) DO UPDATE SET entry = excluded.entry, updated_at = excluded.updated_at",
            )?;
            for (key, entry) in entries {
                put.execute(params![contest, key, entry, now])?;
            }
            Ok(())
        })
    }

    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT state FROM crisis_plans WHERE name = ?1")?
            .query_row([plan], |row| row.get(0))
            .optional()?)
    }

    fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT cursor FROM crisis_cursors WHERE plan = ?1 AND account = ?2")?
            .query_row([plan, account], |row| row.get(0))
            .optional()?)
    }

    fn add_crisis_mentions(
        &self,
        plan: &str,
        account: &str,
        mentions: &[NewMention],
        cursor: Option<&str>,
        now: Millis,
    ) -> StoreResult<usize> {
        self.transaction(|tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO crisis_mentions (plan, key, at, author, text, read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (plan, key) DO NOTHING",
            )?;
            let mut new = 0;
            for mention in mentions {
                new += insert.execute(params![
                    plan,
                    mention.key,
                    mention.at,
                    mention.author,
                    mention.text,
                    now
                ])?;
            }
            if let Some(cursor) = cursor {
                tx.prepare_cached(
                    "INSERT INTO crisis_cursors (plan, account, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (plan, account) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                )?
                .execute(params![plan, account, cursor, now])?;
            }
            Ok(new)
        })
    }

    fn crisis_mentions(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
    ) -> StoreResult<Vec<StoredMention>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            // NOT INDEXED: the service asks every second for the few mentions after `seq`,
            // a seek on the row id; the (plan, at) index would walk eight days of them.
            "SELECT seq, at, author, text FROM crisis_mentions NOT INDEXED
              WHERE plan = ?1 AND seq > ?2 AND at >= ?3 ORDER BY seq",
        )?;
        let rows = query
            .query_map(params![plan, after_seq, since], |row| {
                Ok(StoredMention {
                    seq: row.get(0)?,
                    at: row.get(1)?,
                    author: row.get(2)?,
                    text: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incidents(&self) -> StoreResult<Vec<IncidentRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT id, plan, status, level, opened_at, resolved_at, report FROM incidents ORDER BY id DESC",
        )?;
        let rows = query
            .query_map([], incident_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(
                "SELECT id, plan, status, level, opened_at, resolved_at, report FROM incidents WHERE id = ?1",
            )?
            .query_row([id], incident_row)
            .optional()?)
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM incidents")?
            .query_row([], |row| row.get(0))?)
    }

    fn add_incident_action(&self, incident: i64, action: &str, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            Ok(tx.query_row(
                "INSERT INTO incident_actions (incident, action, at) VALUES (?1, ?2, ?3) RETURNING id",
                params![incident, action, now],
                |row| row.get(0),
            )?)
        })
    }

    fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT a.id, a.incident, a.action, a.at, a.applied_at, a.outcome
               FROM incident_actions a JOIN incidents i ON i.id = a.incident
              WHERE i.plan = ?1 AND a.applied_at IS NULL ORDER BY a.id",
        )?;
        let rows = query
            .query_map([plan], action_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(
                "SELECT id, incident, action, at, applied_at, outcome FROM incident_actions WHERE id = ?1",
            )?
            .query_row([id], action_row)
            .optional()?)
    }
}

fn insert_pause(tx: &Transaction, pause: &NewPause, now: Millis) -> StoreResult<i64> {
    Ok(tx.query_row(
        "INSERT INTO pauses (scope, name, until, reason, paused_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![
            pause.scope.kind(),
            pause.scope.name(),
            pause.until,
            pause.reason,
            pause.by,
            now
        ],
        |row| row.get(0),
    )?)
}

/// Lifts the pauses of `scope` in force (every one for `All`), only those `paused_by` set
/// when given.
fn lift_pauses(
    tx: &Transaction,
    scope: &PauseScope,
    by: &str,
    paused_by: Option<&str>,
    now: Millis,
) -> StoreResult<usize> {
    let all = *scope == PauseScope::All;
    Ok(tx.execute(
        "UPDATE pauses SET lifted_at = ?1, lifted_by = ?2
          WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1)
            AND (?3 OR (scope = ?4 AND name IS ?5))
            AND (?6 IS NULL OR paused_by = ?6)",
        params![now, by, all, scope.kind(), scope.name(), paused_by],
    )?)
}

fn write_crisis(tx: &Transaction, write: &CrisisWrite, now: Millis) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO crisis_plans (name, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![write.plan, write.state, now])?;
    let mut incident = tx.prepare_cached(
        "INSERT INTO incidents (id, plan, status, level, opened_at, resolved_at, report, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, level = excluded.level,
             resolved_at = excluded.resolved_at, report = excluded.report, updated_at = excluded.updated_at",
    )?;
    for row in &write.incidents {
        incident.execute(params![
            row.id,
            row.plan,
            row.status,
            row.level,
            row.opened_at,
            row.resolved_at,
            row.report,
            now
        ])?;
    }
    let mut applied = tx.prepare_cached(
        "UPDATE incident_actions SET applied_at = ?2, outcome = ?3 WHERE id = ?1 AND applied_at IS NULL",
    )?;
    for (id, outcome) in &write.applied {
        applied.execute(params![id, now, outcome])?;
    }
    if let Some(before) = write.forget_mentions_before {
        tx.prepare_cached("DELETE FROM crisis_mentions WHERE plan = ?1 AND at < ?2")?
            .execute(params![write.plan, before])?;
    }
    Ok(())
}

fn incident_row(row: &rusqlite::Row) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: row.get(0)?,
        plan: row.get(1)?,
        status: row.get(2)?,
        level: row.get(3)?,
        opened_at: row.get(4)?,
        resolved_at: row.get(5)?,
        report: row.get(6)?,
    })
}

fn action_row(row: &rusqlite::Row) -> rusqlite::Result<IncidentActionRow> {
    Ok(IncidentActionRow {
        id: row.get(0)?,
        incident: row.get(1)?,
        action: row.get(2)?,
        at: row.get(3)?,
        applied_at: row.get(4)?,
        outcome: row.get(5)?,
    })
}

fn run_view(row: &rusqlite::Row) -> rusqlite::Result<RunView> {
    let state: String = row.get(5)?;
    Ok(RunView {
        id: row.get(0)?,
        playbook: row.get(1)?,
        item: row.get(2)?,
        fire_at: row.get(3)?,
        revision: row.get(4)?,
        state: RunState::parse(&state).unwrap_or(RunState::Failed),
        reason: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        steps: Vec::new(),
        outbox: Vec::new(),
    })
}

fn with_details(connection: &Connection, mut run: RunView) -> StoreResult<RunView> {
    let mut steps = connection.prepare_cached(
        "SELECT idx, kind, state, wake_at, reason FROM steps WHERE run_id = ?1 ORDER BY idx",
    )?;
    run.steps = steps
        .query_map([run.id], |row| {
            let state: String = row.get(2)?;
            Ok(StepView {
                index: row.get::<_, i64>(0)? as usize,
                kind: row.get(1)?,
                state: StepState::parse(&state).unwrap_or(StepState::Failed),
                wake_at: row.get(3)?,
                reason: row.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut outbox = connection.prepare_cached(
        "SELECT step, account, state, attempts, next_attempt_at, remote_id, error, payload, note FROM outbox WHERE run_id = ?1 ORDER BY step, id",
    )?;
    let rows = outbox
        .query_map([run.id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, Option<String>>(8)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (step, account, state, attempts, next_attempt_at, remote_id, error, payload, note) in rows {
        let post: OutgoingPost = from_json(&payload)?;
        run.outbox.push(OutboxView {
            step: step as usize,
            account,
            state: OutboxState::parse(&state).unwrap_or(OutboxState::Failed),
            attempts: attempts as u32,
            next_attempt_at,
            remote_id,
            error,
            note,
            text: post.text,
        });
    }
    Ok(run)
}

/// One approval with its decisions, oldest first.
fn approval_view(connection: &Connection, id: i64) -> StoreResult<ApprovalView> {
    let row = connection
        .prepare_cached(
            "SELECT playbook, item, fire_at, approvers, need, deadline, on_timeout, text, accounts, state, created_at
               FROM approvals WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, String>(9)?,
                row.get::<_, i64>(10)?,
            ))
        })?;
    let (
        playbook,
        item,
        fire_at,
        approvers,
        need,
        deadline,
        on_timeout,
        text,
        accounts,
        state,
        created_at,
    ) = row;
    let decisions = connection
        .prepare_cached(
            "SELECT person, decision, note, at FROM approval_decisions WHERE approval_id = ?1 ORDER BY id",
        )?
        .query_map([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|(by, decision, note, at)| {
            Ok(DecisionView {
                by,
                decision: Decision::parse(&decision)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown decision `{decision}`")))?,
                note,
                at,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(ApprovalView {
        id,
        playbook,
        item,
        fire_at,
        approvers: from_json(&approvers)?,
        need,
        deadline,
        on_timeout,
        text,
        accounts: from_json(&accounts)?,
        state: ApprovalState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown approval state `{state}`")))?,
        created_at,
        decisions,
    })
}
