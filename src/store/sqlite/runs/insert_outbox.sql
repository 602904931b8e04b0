INSERT INTO outbox (run_id, step, account, idempotency_key, payload, state, next_attempt_at, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)
  ON CONFLICT (idempotency_key) DO NOTHING
