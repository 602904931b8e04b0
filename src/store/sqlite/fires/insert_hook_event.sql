INSERT INTO hook_events (hook, key, received_at, runs) VALUES (?1, ?2, ?3, ?4)
