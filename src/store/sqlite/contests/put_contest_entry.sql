INSERT INTO contest_entries (contest, key, entry, first_seen, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
  ON CONFLICT (contest, key) DO UPDATE SET entry = excluded.entry, updated_at = excluded.updated_at
