SELECT r.fire_at, r.playbook, r.item, r.state, r.reason, o.account, o.state, json_extract(o.payload, '$.text'), o.error,
      json_extract(o.payload, '$.reply_to'), o.remote_id, o.updated_at, o.note
 FROM runs r LEFT JOIN outbox o ON o.run_id = r.id
  WHERE r.fire_at >= ?1 AND r.fire_at < ?2
  ORDER BY r.fire_at, r.id, o.step, o.id
