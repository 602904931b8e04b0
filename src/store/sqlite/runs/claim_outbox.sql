-- Claims due sends for one owner under a lease. PostgreSQL: the same with
-- `FOR UPDATE SKIP LOCKED` in the sub-select (and `<> ALL(?6)` for the skipped accounts).
UPDATE outbox
   SET state = 'sending', attempts = attempts + 1, claimed_at = ?1, updated_at = ?1,
       claimed_by = ?4, lease_until = ?5, in_flight_at = NULL
 WHERE id IN (SELECT id FROM outbox
               WHERE state = 'pending' AND next_attempt_at <= ?1
                 AND (?3 IS NULL OR run_id = ?3)
                 AND account NOT IN (SELECT value FROM json_each(?6))
               ORDER BY next_attempt_at, id
               LIMIT +?2)
RETURNING id, run_id, step, account, payload, attempts, check_first, note IS NOT NULL, first_attempt_at
