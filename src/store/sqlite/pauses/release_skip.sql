UPDATE outbox SET state = 'skipped', note = ?2, updated_at = ?3
  WHERE id = ?1 AND state = 'held' RETURNING run_id
