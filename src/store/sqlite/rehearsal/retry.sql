-- A pending send's attempt at ?5 failed for now: due again at ?2.
UPDATE outbox SET state = 'pending', next_attempt_at = ?2, error = ?3, check_first = ?4,
       attempts = attempts + 1, claimed_at = ?5, first_attempt_at = coalesce(first_attempt_at, ?5),
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?5
 WHERE id = ?1 AND state = 'pending'
 RETURNING run_id
