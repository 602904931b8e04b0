SELECT playbook, item, fire_at, approvers, need, deadline, on_timeout, text, accounts, state, created_at
  FROM approvals WHERE id = ?1
