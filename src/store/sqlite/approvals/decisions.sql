SELECT person, decision, note, at FROM approval_decisions WHERE approval_id = ?1 ORDER BY id
