-- One account's due sends, earliest first (?1 account, ?2 now, ?3 run or NULL, ?4 limit).
SELECT id, next_attempt_at FROM outbox
 WHERE state = 'pending' AND account = ?1 AND next_attempt_at <= ?2
   AND (?3 IS NULL OR run_id = ?3)
 ORDER BY next_attempt_at, id
 LIMIT +?4
