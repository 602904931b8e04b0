INSERT INTO feed_cursors (feed, cursor, updated_at) VALUES (?1, ?2, ?3)
  ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
