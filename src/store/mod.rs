//! The store: runs, steps, the outbox, schedule cursors and the audit log. Everything the
//! engine must not forget goes here *before* anything visible happens ("durable before
//! visible"). Its interface (`api.rs`) is one trait per aggregate and `Store`, all of them,
//! in backend-neutral terms; the embedded default backend is SQLite (`sqlite/`, its SQL and
//! migrations in files beside it). A PostgreSQL backend implements the same traits, so the
//! claiming SQL stays compatible with `FOR UPDATE SKIP LOCKED`. Rehearsals and tests use
//! SQLite in memory (`SqliteStore::in_memory`): one implementation of the semantics.

mod api;
mod handle;
pub mod json_times;
mod links;
mod model;
mod sessions;
pub mod shared_feed;
pub mod sqlite;
mod tokens;

pub use api::*;
pub use handle::StoreHandle;
pub use links::LinkStore;
pub use model::*;
pub use sessions::{LoginLinkRow, NewLoginLink, NewSession, SessionRow, SessionStore};
pub use sqlite::SqliteStore;
pub use tokens::{NewToken, TokenRow, TokenStore};

/// What went wrong talking to the store. Its message is shown to people as it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store `{location}`: {reason}")]
    Open { location: String, reason: String },
    /// The backend failed or refused a call, in its own words (a refused call changes
    /// nothing).
    #[error("the store failed: {0}")]
    Backend(String),
    /// The store's schema cannot be brought up to date by this crier.
    #[error("cannot use the store `{location}`: {reason}")]
    Schema { location: String, reason: String },
    #[error("the store holds a value crier cannot read: {0}")]
    Corrupt(String),
    #[error("unsupported store `{0}`: use `sqlite://PATH` (PostgreSQL is not supported yet)")]
    Unsupported(String),
    #[error(
        "another `crier run` is using the store `{location}` (pid {pid}); run one service per store"
    )]
    InUse { location: String, pid: String },
    /// Not a failure of the store: the service is stopping, and the engine dropped what it
    /// had not committed yet (it is done again after the next start).
    #[error("stopping: what was not committed is done after the next start")]
    Interrupted,
}

impl From<crate::text::Stopped> for StoreError {
    fn from(_: crate::text::Stopped) -> Self {
        StoreError::Interrupted
    }
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
