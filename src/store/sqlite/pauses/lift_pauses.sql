UPDATE pauses SET lifted_at = ?1, lifted_by = ?2
  WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1)
  AND (?3 OR (scope = ?4 AND name IS ?5))
  AND (?6 IS NULL OR paused_by = ?6)
