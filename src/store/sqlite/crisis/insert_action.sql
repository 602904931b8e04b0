INSERT INTO incident_actions (incident, action, at) VALUES (?1, ?2, ?3) RETURNING id
