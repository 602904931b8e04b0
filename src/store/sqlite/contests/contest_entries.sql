SELECT key, entry FROM contest_entries WHERE contest = ?1 ORDER BY first_seen, key
