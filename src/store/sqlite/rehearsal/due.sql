-- A rehearsal's sends due at ?1, earliest first (by due time, then id), at most ?2: read,
-- not claimed (nothing else can take them; their results go straight in). `attempts`
-- counts the attempt about to be made, as a claim would.
SELECT id, run_id, step, account, payload, attempts + 1, check_first, note IS NOT NULL, first_attempt_at
  FROM outbox
 WHERE state = 'pending' AND next_attempt_at <= ?1
 ORDER BY next_attempt_at, id
 LIMIT +?2
