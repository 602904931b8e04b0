//! The API tokens in SQLite (`0010_tokens.sql`).

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{Millis, NewToken, StoreResult, TokenRow, TokenStore};

const COLUMNS: &str = "id, person, name, sha256, created_at, expires_at, revoked_at";

fn row(row: &rusqlite::Row) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get(0)?,
        person: row.get(1)?,
        name: row.get(2)?,
        sha256: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

impl TokenStore for SqliteStore {
    fn add_token(&self, token: &NewToken, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO tokens (person, name, sha256, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.person,
                    token.name,
                    token.sha256,
                    now,
                    token.expires_at
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn token_by_sha256(&self, sha256: &str) -> StoreResult<Option<TokenRow>> {
        let connection = self.lock();
        Ok(connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM tokens WHERE sha256 = ?1"),
                [sha256],
                row,
            )
            .optional()?)
    }

    fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let connection = self.lock();
        let mut select =
            connection.prepare(&format!("SELECT {COLUMNS} FROM tokens ORDER BY id"))?;
        let rows = select.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn revoke_token(&self, id: i64, now: Millis) -> StoreResult<bool> {
        self.transaction(|tx| {
            let changed = tx.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            Ok(changed > 0)
        })
    }
}
