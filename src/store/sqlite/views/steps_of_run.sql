SELECT idx, kind, state, wake_at, reason FROM steps WHERE run_id = ?1 ORDER BY idx
