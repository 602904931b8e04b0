-- A pending send went out at ?3 (?2 its remote id): its claim, its in-flight mark and its
-- result in one update, leaving the row as the service's three would.
UPDATE outbox SET state = 'sent', remote_id = ?2, error = NULL, check_first = 0,
       attempts = attempts + 1, claimed_at = ?3, first_attempt_at = coalesce(first_attempt_at, ?3),
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?3
 WHERE id = ?1 AND state = 'pending'
 RETURNING run_id
