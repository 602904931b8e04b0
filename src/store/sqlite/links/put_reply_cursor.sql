INSERT INTO reply_cursors (account, cursor, updated_at) VALUES (?1, ?2, ?3)
  ON CONFLICT (account) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
