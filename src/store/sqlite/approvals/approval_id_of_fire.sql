SELECT id FROM approvals WHERE playbook = ?1 AND item = ?2 AND fire_at = ?3
