SELECT id, incident, action, at, applied_at, outcome FROM incident_actions WHERE id = ?1
