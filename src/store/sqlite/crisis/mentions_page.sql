-- As mentions_after.sql, at most ?4 of them (NOT INDEXED: a seek on the row id).
SELECT seq, at, author, text FROM crisis_mentions NOT INDEXED
 WHERE plan = ?1 AND seq > ?2 AND at >= ?3 ORDER BY seq
 LIMIT ?4
