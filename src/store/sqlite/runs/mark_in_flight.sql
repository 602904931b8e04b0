UPDATE outbox SET in_flight_at = ?3, first_attempt_at = coalesce(first_attempt_at, ?3), updated_at = ?3
  WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
