INSERT INTO approval_decisions (approval_id, person, decision, note, at) VALUES (?1, ?2, ?3, ?4, ?5)
