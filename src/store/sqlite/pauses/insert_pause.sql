INSERT INTO pauses (scope, name, until, reason, paused_by, created_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id
