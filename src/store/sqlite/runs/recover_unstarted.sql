-- Claimed sends whose request never left, taken back as they were, the claim's attempt not
-- counted. ?1 is now; ?2 as in recover_in_doubt.sql.
UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?1,
       claimed_by = NULL, lease_until = NULL, updated_at = ?1
 WHERE state = 'sending' AND in_flight_at IS NULL
   AND CASE WHEN ?2 IS NULL THEN lease_until IS NULL OR lease_until <= ?1
            ELSE substr(claimed_by, 1, length(?2)) = ?2 END
