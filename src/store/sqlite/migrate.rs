//! The schema's migrations: named files in `migrations/`, applied in the order of
//! [`MIGRATIONS`], each recorded in `schema_migrations` with its checksum, so a migration
//! edited after a store applied it is refused rather than silently skipped. Stores made
//! before migrations were recorded by name (their `user_version` counted the ones applied,
//! in order) are recorded on their next opening, without running anything again.

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::store::{StoreError, StoreResult};

/// One migration: its name (the file's, without `.sql`) and its SQL.
pub(super) struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            name: $name,
            sql: include_str!(concat!("migrations/", $name, ".sql")),
        }
    };
}

/// Append only. A new migration is a file `migrations/NNNN_what.sql`, numbered after the
/// last one, and its line at the end here. An applied migration is never edited: change the
/// schema with a new one. (There is no 0006: numbers are names, not positions.)
pub(super) const MIGRATIONS: &[Migration] = &[
    migration!("0001_init"),
    migration!("0002_alive"),
    migration!("0003_metrics"),
    migration!("0004_holds"),
    migration!("0005_contests"),
    migration!("0007_approvals"),
    migration!("0008_incidents"),
    migration!("0009_claims"),
    migration!("0010_outbox_due_by_account"),
    migration!("0011_hooks"),
    migration!("0012_tokens"),
    migration!("0013_sessions"),
    migration!("0014_decision_links"),
    migration!("0016_pages_and_actions"),
    migration!("0017_send_handles"),
    migration!("0018_contest_entries_unchecked"),
    migration!("0019_disqualified_action"),
    migration!("0024_shared_feeds"),
];

/// The migrations of stores that counted them in `user_version`, in the order applied: such a
/// store at version N had applied the first N. Frozen: new migrations are never added here.
const POSITIONAL: &[&str] = &[
    "0001_init",
    "0002_alive",
    "0003_metrics",
    "0004_holds",
    "0005_contests",
    "0007_approvals",
    "0008_incidents",
    "0009_claims",
];

/// A migration's checksum: SHA-256 of its text, line endings as `\n` (a checkout that turns
/// them into `\r\n` changes nothing).
pub(super) fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.replace("\r\n", "\n").as_bytes()))
}

/// Brings the store's schema up to date, in one transaction: records the migrations of a
/// store that counted them by position, checks every recorded one against its file, and
/// applies (and records) those not applied yet, in order.
pub(super) fn migrate(connection: &mut Connection, location: &str, now: i64) -> StoreResult<()> {
    let refused = |reason: String| StoreError::Schema {
        location: location.to_string(),
        reason,
    };
    // One writer at a time, and the record read inside its transaction: two processes
    // opening a new store together must not both apply the same migration.
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(sql!("migrate/create_record"))?;
    let mut applied = recorded(&tx)?;
    if applied.is_empty() {
        let version: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > POSITIONAL.len() {
            return Err(refused(format!(
                "its version is {version}, newer than this crier knows ({}); upgrade crier",
                POSITIONAL.len()
            )));
        }
        for name in &POSITIONAL[..version] {
            let migration = MIGRATIONS
                .iter()
                .find(|m| m.name == *name)
                .expect("every positional migration is a migration");
            tx.prepare_cached(sql!("migrate/record"))?.execute(params![
                name,
                checksum(migration.sql),
                now
            ])?;
        }
        applied = recorded(&tx)?;
    }
    for (name, recorded_checksum) in &applied {
        let Some(migration) = MIGRATIONS.iter().find(|m| m.name == name) else {
            return Err(refused(format!(
                "it has migration `{name}`, which this crier does not know (a newer crier \
                 applied it); upgrade crier"
            )));
        };
        let current = checksum(migration.sql);
        if current != *recorded_checksum {
            return Err(refused(format!(
                "migration `{name}` changed after this store applied it (checksum {} then, {} \
                 now); an applied migration is never edited: restore it, and change the schema \
                 in a new migration",
                short(recorded_checksum),
                short(&current)
            )));
        }
    }
    for migration in MIGRATIONS {
        if applied.iter().any(|(name, _)| name == migration.name) {
            continue;
        }
        tx.execute_batch(migration.sql)
            .map_err(|error| refused(format!("migration `{}` failed: {error}", migration.name)))?;
        tx.prepare_cached(sql!("migrate/record"))?.execute(params![
            migration.name,
            checksum(migration.sql),
            now
        ])?;
    }
    // Kept counting, so that a crier from before named migrations refuses a newer store.
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

/// Whether every migration of this crier is recorded as applied (read only: a store last
/// used by an older crier is brought up to date by the next `crier run`).
pub(super) fn is_current(connection: &Connection) -> StoreResult<bool> {
    let has_record: i64 = connection
        .prepare_cached(sql!("migrate/has_record"))?
        .query_row([], |row| row.get(0))?;
    if has_record == 0 {
        return Ok(false);
    }
    let applied = recorded(connection)?;
    Ok(MIGRATIONS
        .iter()
        .all(|m| applied.iter().any(|(name, _)| name == m.name)))
}

fn recorded(connection: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut query = connection.prepare_cached(sql!("migrate/recorded"))?;
    let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_named_in_order_once() {
        for pair in MIGRATIONS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for name in POSITIONAL {
            assert!(MIGRATIONS.iter().any(|m| m.name == *name));
        }
    }

    /// A file added to `migrations/` without its line in `MIGRATIONS` would never run.
    #[test]
    fn every_migration_file_is_listed() {
        let folder =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite/migrations");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
    }
}
