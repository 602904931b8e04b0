SELECT id, playbook, item, fire_at, revision, state, reason, created_at, updated_at FROM runs
  WHERE state IN ('running', 'waiting') ORDER BY fire_at, id LIMIT 100
