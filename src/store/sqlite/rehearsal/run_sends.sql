-- A run's sends in order, with what settling it reads: state, account, error, note.
SELECT state, account, error, note FROM outbox WHERE run_id = ?1 ORDER BY id
