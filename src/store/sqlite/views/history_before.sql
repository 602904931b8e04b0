SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
  WHERE (?1 IS NULL OR playbook = ?1) AND (?2 IS NULL OR fire_at >= ?2)
    AND (?3 IS NULL OR state = ?3)
    AND fire_at <= ?4 AND (fire_at < ?4 OR id < ?5)
  ORDER BY fire_at DESC, id DESC LIMIT ?6
