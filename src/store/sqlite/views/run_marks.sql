SELECT playbook, item, fire_at, state FROM runs
  WHERE fire_at >= ?1 AND fire_at < ?2
  ORDER BY fire_at
