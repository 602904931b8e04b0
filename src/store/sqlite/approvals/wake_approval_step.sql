UPDATE steps SET wake_at = ?4, updated_at = ?4
  WHERE state = 'waiting' AND kind = 'approve'
  AND run_id = (SELECT id FROM runs WHERE playbook = ?1 AND item = ?2 AND fire_at = ?3)
