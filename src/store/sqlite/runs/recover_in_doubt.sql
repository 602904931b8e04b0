-- Claimed sends whose request had left, taken back: their outcome is unknown, so the next
-- attempt checks first. ?1 is now; ?2 an owner prefix (every claim of those owners), or
-- NULL (the claims whose lease passed).
UPDATE outbox SET state = 'pending', check_first = 1, next_attempt_at = ?1,
       claimed_by = NULL, lease_until = NULL, in_flight_at = NULL, updated_at = ?1
 WHERE state = 'sending' AND in_flight_at IS NOT NULL
   AND CASE WHEN ?2 IS NULL THEN lease_until IS NULL OR lease_until <= ?1
            ELSE substr(claimed_by, 1, length(?2)) = ?2 END
