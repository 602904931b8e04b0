SELECT seq, at, author, text FROM crisis_mentions NOT INDEXED
  WHERE plan = ?1 AND seq > ?2 AND at >= ?3 ORDER BY seq
