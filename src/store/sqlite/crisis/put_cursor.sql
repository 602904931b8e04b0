INSERT INTO crisis_cursors (plan, account, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (plan, account) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
