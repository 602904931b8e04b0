UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?3, note = ?4,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?5
 WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
 RETURNING run_id
