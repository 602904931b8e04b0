INSERT INTO steps (run_id, idx, kind, state, wake_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
