SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
  WHERE (?1 IS NULL OR playbook = ?1) AND (?2 IS NULL OR fire_at >= ?2)
  ORDER BY fire_at DESC, id DESC LIMIT +?3
