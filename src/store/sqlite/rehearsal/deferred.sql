-- A pending send that waits until ?2, seen at ?4; ?5 says whether its request had left
-- (the network asked to wait) and marks its first attempt then.
UPDATE outbox SET state = 'pending', next_attempt_at = ?2, note = ?3, claimed_at = ?4,
       first_attempt_at = CASE WHEN ?5 THEN coalesce(first_attempt_at, ?4) ELSE first_attempt_at END,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?4
 WHERE id = ?1 AND state = 'pending'
 RETURNING run_id
