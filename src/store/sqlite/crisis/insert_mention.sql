INSERT INTO crisis_mentions (plan, key, at, author, text, read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
  ON CONFLICT (plan, key) DO NOTHING
