-- Claims due sends. PostgreSQL: the same with `FOR UPDATE SKIP LOCKED` in the sub-select.
UPDATE outbox
   SET state = 'sending', attempts = attempts + 1, claimed_at = ?1, updated_at = ?1
 WHERE id IN (SELECT id FROM outbox
               WHERE state = 'pending' AND next_attempt_at <= ?1
                 AND (?3 IS NULL OR run_id = ?3)
               ORDER BY next_attempt_at, id
               LIMIT ?2)
RETURNING id, run_id, step, account, payload, attempts, check_first, note IS NOT NULL
