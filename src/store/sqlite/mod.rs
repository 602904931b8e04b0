//! The embedded default store: one SQLite file in WAL mode. One file per aggregate
//! (`runs.rs`, `approvals.rs`…), each statement in a `.sql` file in the folder of the same
//! name beside it; migrations in `migrations/`, applied by `migrate.rs`. One connection
//! behind a mutex: every call is one short transaction, and batching (claiming many sends
//! at once) keeps it fast.
//!
//! A statement's `LIMIT` parameter is written `LIMIT +?N`: SQLite's planner reads a bare
//! `LIMIT ?N`, and then prepares the statement again every time it is bound (a claim, a
//! rehearsal's sends due, a page of mentions). A test runs every statement to hold to it.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;

/// A statement from its file beside the code that runs it: `sql!("runs/claim_outbox")` is
/// `runs/claim_outbox.sql`.
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!($name, ".sql"))
    };
}

mod approvals;
mod checkpoint;
mod contests;
mod crisis;
mod fires;
mod forget;
mod links;
mod metrics;
mod migrate;
mod pauses;
mod rehearsal;
mod runs;
mod schedules;
mod sessions;
mod tokens;
mod views;

use super::{StoreError, StoreResult};

/// How many times opening a new store file tries to switch it to WAL (20 ms apart).
const WAL_TRIES: u32 = 250;

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Prepared statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 128;

pub struct SqliteStore {
    connection: Mutex<Connection>,
    /// A file's log copied into it in the background (`checkpoint.rs`); none in memory.
    checkpointer: Option<checkpoint::Checkpointer>,
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
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // SQLite answers "locked" at once, without waiting, when another connection opening
        // the same new file holds a lock that waiting for could deadlock on: try again.
        let mut tries = 0;
        loop {
            match connection.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(error) if is_busy(&error) && tries < WAL_TRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => return Err(open_error(error.to_string())),
            }
        }
        // FULL: a committed intent survives power loss, not only a crash of crier.
        connection.pragma_update(None, "synchronous", "FULL")?;
        let mut store = Self::prepare(connection, &path.display().to_string())?;
        store.checkpointer = checkpoint::start(path);
        if store.checkpointer.is_some() {
            store.lock().pragma_update(
                None,
                "wal_autocheckpoint",
                checkpoint::COMMIT_CHECKPOINTS_AT,
            )?;
        }
        Ok(store)
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
            checkpointer: None,
        })
    }

    /// A store that lives in memory only and keeps nothing after the process ends:
    /// rehearsals, tests, a service's throwaway engine. The same semantics as a file, tuned
    /// for speed: nothing is synced, temporary tables stay in memory.
    pub fn in_memory() -> StoreResult<SqliteStore> {
        let connection = Connection::open_in_memory()?;
        // The journal stays (in memory, SQLite's default here): with `journal_mode=OFF` a
        // call that fails half-way could not be rolled back and left half its writes.
        connection.pragma_update(None, "journal_mode", "MEMORY")?;
        connection.pragma_update(None, "synchronous", "OFF")?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        Self::prepare(connection, ":memory:")
    }

    fn prepare(connection: Connection, location: &str) -> StoreResult<SqliteStore> {
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // Room for every statement the store runs (rusqlite keeps 16 by default): a hot path
        // such as a commit or a batch of results never prepares a statement twice.
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let store = SqliteStore {
            connection: Mutex::new(connection),
            checkpointer: None,
        };
        store.migrate(location)?;
        Ok(store)
    }

    fn migrate(&self, location: &str) -> StoreResult<()> {
        let now = chrono::Utc::now().timestamp_millis();
        migrate::migrate(&mut self.lock(), location, now)
    }

    /// Whether the store's schema is the one this crier writes (a store last used by an
    /// older crier is brought up to date by the next `crier run`).
    pub fn is_current(&self) -> StoreResult<bool> {
        migrate::is_current(&self.lock())
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no transaction open (rusqlite rolls back on
        // drop), so the connection is still good.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one call's writes as one transaction; inside a group (`begin_group`), as a
    /// savepoint of the group's transaction, so a call that fails still changes nothing.
    pub(super) fn transaction<T>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self.lock();
        if !connection.is_autocommit() {
            let savepoint = connection.savepoint()?;
            let value = work(&savepoint)?;
            savepoint.commit()?;
            return Ok(value);
        }
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// A rehearsal's own writes (`rehearsal.rs`, `forget.rs`): inside a group, straight into
    /// the group's transaction, without the savepoint that keeps any other call all or
    /// nothing (its page copies cost about a twentieth of a rehearsal). An error of these
    /// calls ends the rehearsal, and its store in memory with it, so nothing reads what a
    /// failed one half wrote. Outside a group, one transaction, as any call.
    pub(super) fn rehearsal_write<T>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        {
            let connection = self.lock();
            if !connection.is_autocommit() {
                return work(&connection);
            }
        }
        self.transaction(work)
    }

    /// Opens a group: every call until `commit_group` writes into one transaction, which
    /// the group's reads see. For a store with one user that makes many small calls in a
    /// row (a rehearsal's virtual tick): one commit instead of one per call.
    pub fn begin_group(&self) -> StoreResult<()> {
        let connection = self.lock();
        if connection.is_autocommit() {
            connection.execute_batch("BEGIN IMMEDIATE")?;
        }
        Ok(())
    }

    /// Commits the group `begin_group` opened (nothing without one).
    pub fn commit_group(&self) -> StoreResult<()> {
        let connection = self.lock();
        if !connection.is_autocommit() {
            connection.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

/// SQLite's errors in the store's neutral terms: the message stays SQLite's own.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error {
            rusqlite::Error::FromSqlConversionFailure(_, _, inner) if inner.is::<Unreadable>() => {
                StoreError::Corrupt(inner.to_string())
            }
            error => StoreError::Backend(error.to_string()),
        }
    }
}

/// A stored value crier does not know, raised inside a row mapping (which can only return
/// `rusqlite::Error`) and turned into `StoreError::Corrupt`.
#[derive(Debug)]
struct Unreadable(String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// A row crier cannot read, saying why (a `StoreError::Corrupt` once out of the mapping).
fn unreadable(reason: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Null,
        Box::new(Unreadable(reason)),
    )
}

/// `parse(value)`, or, for a value it does not know, an error naming `what` and the value.
fn known<T>(
    column: usize,
    what: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(Unreadable(format!("unknown {what} `{value}`"))),
        )
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store records serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}
