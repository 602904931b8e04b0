SELECT id, scope, name, until, reason, paused_by, created_at FROM pauses
  WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1) ORDER BY id
