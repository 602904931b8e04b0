UPDATE outbox SET state = 'pending', next_attempt_at = ?3, error = ?4, check_first = ?5,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?6
 WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
 RETURNING run_id
