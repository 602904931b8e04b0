SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
  WHERE fire_at <= ?1 AND (fire_at < ?1 OR id < ?2)
    AND (?3 IS NULL OR fire_at >= ?3)
    AND (?4 IS NULL OR playbook = ?4)
    AND (?5 IS NULL OR state = ?5)
    AND ((?6 IS NULL AND ?7 IS NULL) OR EXISTS (
      SELECT 1 FROM outbox WHERE outbox.run_id = runs.id
        AND (?6 IS NULL OR outbox.account = ?6) AND (?7 IS NULL OR outbox.state = ?7)))
  ORDER BY fire_at DESC, id DESC LIMIT +?8
