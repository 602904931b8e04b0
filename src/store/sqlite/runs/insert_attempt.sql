INSERT INTO attempts (outbox_id, at, outcome, detail) VALUES (?1, ?2, ?3, ?4)
