-- Claims the pending sends ?4 (a JSON array of ids, chosen by the caller) for owner ?2
-- until ?3, at ?1, as claim_outbox.sql does.
UPDATE outbox
   SET state = 'sending', attempts = attempts + 1, claimed_at = ?1, updated_at = ?1,
       claimed_by = ?2, lease_until = ?3, in_flight_at = NULL
 WHERE id IN (SELECT value FROM json_each(?4)) AND state = 'pending'
RETURNING id, run_id, step, account, payload, attempts, check_first, note IS NOT NULL, first_attempt_at
