//! People's API tokens in SQLite (table `tokens`, migration `0012_tokens`); each statement in
//! `tokens/`.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{Millis, NewToken, StoreResult, TokenRow, TokenStore};

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
            tx.prepare_cached(sql!("tokens/add"))?.execute(params![
                token.person,
                token.name,
                token.sha256,
                now,
                token.expires_at
            ])?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn token_by_sha256(&self, sha256: &str) -> StoreResult<Option<TokenRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("tokens/by_sha256"))?
            .query_row([sha256], row)
            .optional()?)
    }

    fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let connection = self.lock();
        let mut select = connection.prepare_cached(sql!("tokens/all"))?;
        let rows = select.query_map([], row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn revoke_token(&self, id: i64, now: Millis) -> StoreResult<bool> {
        self.transaction(|tx| {
            let changed = tx
                .prepare_cached(sql!("tokens/revoke"))?
                .execute(params![id, now])?;
            Ok(changed > 0)
        })
    }
}
