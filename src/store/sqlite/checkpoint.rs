//! The write-ahead log copied into the database file by a thread of its own, on a connection
//! of its own. SQLite otherwise does it inside the commit that fills the log past 1,000
//! pages: that commit, and every call waiting for the store's one connection behind it,
//! waits for the pages to be written and the file to be synced. A passive checkpoint from
//! another connection takes no lock a commit needs, so commits go on while it runs; the
//! log starts again from its beginning at the first commit after a complete one.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the log is copied into the database file.
const EVERY: Duration = Duration::from_millis(100);
/// Past this many pages in the log, a commit still checkpoints itself, as SQLite does by
/// default at 1,000: only if this thread cannot keep up (the disk is slower than writes).
pub(super) const COMMIT_CHECKPOINTS_AT: u32 = 10_000;

/// The checkpointing thread: it stops when this is dropped (with the store).
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

/// Starts checkpointing the store file at `path` in the background; `None` (commits
/// checkpoint as SQLite does by default) when a second connection cannot be opened.
pub(super) fn start(path: &Path) -> Option<Checkpointer> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    // A durable copy: the database file is synced before the log is reused.
    connection.pragma_update(None, "synchronous", "FULL").ok()?;
    let (running, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("crier-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                // Busy (another checkpoint running) or failing: the next turn, or a commit
                // past `COMMIT_CHECKPOINTS_AT`, does it.
                let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .ok()?;
    Some(Checkpointer { _running: running })
}
