DELETE FROM crisis_mentions WHERE plan = ?1 AND at < ?2
