SELECT id FROM approvals WHERE id = ?1
