SELECT key, entry FROM contest_entries WHERE contest = ?1 AND key = ?2
