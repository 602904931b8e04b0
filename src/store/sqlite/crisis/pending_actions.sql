SELECT a.id, a.incident, a.action, a.at, a.applied_at, a.outcome
 FROM incident_actions a JOIN incidents i ON i.id = a.incident
  WHERE i.plan = ?1 AND a.applied_at IS NULL ORDER BY a.id
