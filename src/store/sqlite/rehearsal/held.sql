-- A pending send a pause holds, seen at ?3 (no attempt made).
UPDATE outbox SET state = 'held', note = ?2, claimed_at = ?3,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?3
 WHERE id = ?1 AND state = 'pending'
 RETURNING run_id
