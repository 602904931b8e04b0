//! The dashboard's sessions and login links in SQLite (`0013_sessions.sql`).

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{
    LoginLinkRow, Millis, NewLoginLink, NewSession, SessionRow, SessionStore, StoreResult,
};

fn session(row: &rusqlite::Row) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: row.get(0)?,
        person: row.get(1)?,
        sha256: row.get(2)?,
        csrf: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        ended_at: row.get(6)?,
    })
}

fn link(row: &rusqlite::Row) -> rusqlite::Result<LoginLinkRow> {
    Ok(LoginLinkRow {
        id: row.get(0)?,
        person: row.get(1)?,
        sha256: row.get(2)?,
        created_at: row.get(3)?,
        expires_at: row.get(4)?,
        used_at: row.get(5)?,
    })
}

impl SessionStore for SqliteStore {
    fn add_session(&self, new: &NewSession, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            tx.execute(
                sql!("sessions/insert_session"),
                params![new.person, new.sha256, new.csrf, now, new.expires_at],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn session_by_sha256(&self, sha256: &str) -> StoreResult<Option<SessionRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("sessions/session"))?
            .query_row([sha256], session)
            .optional()?)
    }

    fn end_session(&self, sha256: &str, now: Millis) -> StoreResult<bool> {
        self.transaction(|tx| {
            Ok(tx.execute(sql!("sessions/end_session"), params![sha256, now])? > 0)
        })
    }

    fn add_login_link(&self, new: &NewLoginLink, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            tx.execute(
                sql!("sessions/insert_login_link"),
                params![new.person, new.sha256, now, new.expires_at],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn use_login_link(&self, sha256: &str, now: Millis) -> StoreResult<Option<LoginLinkRow>> {
        self.transaction(|tx| {
            let found = tx
                .query_row(sql!("sessions/login_link"), [sha256], link)
                .optional()?;
            if let Some(found) = &found {
                tx.execute(sql!("sessions/use_login_link"), params![found.id, now])?;
            }
            Ok(found)
        })
    }
}
