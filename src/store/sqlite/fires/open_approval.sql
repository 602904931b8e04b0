INSERT INTO approvals (playbook, item, fire_at, approvers, need, deadline, on_timeout, text, accounts, state, created_at, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?10)
  ON CONFLICT (playbook, item, fire_at) DO NOTHING
