UPDATE outbox SET lease_until = ?3, updated_at = ?4
  WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
