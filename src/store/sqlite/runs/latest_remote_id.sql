SELECT o.remote_id FROM outbox o JOIN runs r ON r.id = o.run_id
  WHERE r.playbook = ?1 AND r.item = ?2 AND o.account = ?3 AND o.state = 'sent'
  ORDER BY r.fire_at DESC, o.id LIMIT 1
