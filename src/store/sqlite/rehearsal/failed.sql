-- A pending send's attempt at ?3 failed for good.
UPDATE outbox SET state = 'failed', error = ?2,
       attempts = attempts + 1, claimed_at = ?3, first_attempt_at = coalesce(first_attempt_at, ?3),
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?3
 WHERE id = ?1 AND state = 'pending'
 RETURNING run_id
