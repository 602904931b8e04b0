UPDATE outbox SET state = 'sent', remote_id = ?3, error = NULL, check_first = 0,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?4
 WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
 RETURNING run_id
