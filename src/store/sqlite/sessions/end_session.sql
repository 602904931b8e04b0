UPDATE sessions SET ended_at = ?2 WHERE sha256 = ?1 AND ended_at IS NULL
