SELECT r.id, r.playbook, r.item, r.fire_at, s.idx, r.steps
 FROM steps s JOIN runs r ON r.id = s.run_id
  WHERE s.state = 'waiting' AND s.wake_at <= ?1
  ORDER BY s.wake_at, r.id, s.idx
