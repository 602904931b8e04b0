INSERT INTO cursors (playbook, item, last_fire) VALUES (?1, ?2, ?3)
  ON CONFLICT (playbook, item) DO UPDATE SET last_fire = max(last_fire, excluded.last_fire)
