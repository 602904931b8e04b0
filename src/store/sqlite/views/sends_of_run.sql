SELECT step, account, state, attempts, next_attempt_at, remote_id, error, payload, note, updated_at FROM outbox WHERE run_id = ?1 ORDER BY step, id
