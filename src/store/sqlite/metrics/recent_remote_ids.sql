SELECT remote_id FROM outbox
  WHERE account = ?1 AND state = 'sent' AND updated_at >= ?2 AND remote_id IS NOT NULL
  ORDER BY updated_at DESC, id DESC LIMIT +?3
