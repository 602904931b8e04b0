UPDATE outbox SET state = 'pending', next_attempt_at = ?2, note = NULL, updated_at = ?2
  WHERE id = ?1 AND state = 'held' RETURNING run_id
