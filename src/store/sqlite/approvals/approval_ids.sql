SELECT id FROM approvals WHERE (?1 = 0 OR state = 'pending') ORDER BY fire_at, id
