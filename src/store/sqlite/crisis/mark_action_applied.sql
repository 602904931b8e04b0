UPDATE incident_actions SET applied_at = ?2, outcome = ?3 WHERE id = ?1 AND applied_at IS NULL
