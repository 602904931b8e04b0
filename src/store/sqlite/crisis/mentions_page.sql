-- `plan`'s mentions after seq ?2 made at or after ?3, at most ?4 of them (a negative ?4: all).
-- NOT INDEXED: the service asks every second for the few after `seq`, a seek on the row id;
-- the (plan, at) index would walk eight days of them.
SELECT seq, at, author, text FROM crisis_mentions NOT INDEXED
 WHERE plan = ?1 AND seq > ?2 AND at >= ?3 ORDER BY seq
 LIMIT +?4
