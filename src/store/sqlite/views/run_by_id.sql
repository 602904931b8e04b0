SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
  WHERE id = ?1
