UPDATE steps SET state = ?3, reason = ?4, wake_at = NULL, updated_at = ?5
  WHERE run_id = ?1 AND idx = ?2 AND state IN ('waiting', 'pending')
