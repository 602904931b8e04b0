UPDATE steps SET state = ?3, reason = ?4, wake_at = ?5, updated_at = ?6 WHERE run_id = ?1 AND idx = ?2
