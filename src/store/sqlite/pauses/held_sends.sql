SELECT o.id, o.run_id, r.playbook, r.item, r.fire_at, o.account
 FROM outbox o JOIN runs r ON r.id = o.run_id
  WHERE o.state = 'held' ORDER BY o.id
