SELECT key, entry FROM contest_entries
 WHERE contest = ?1 AND json_extract(entry, '$.checked_at_close') IS NULL
   AND julianday(json_extract(entry, '$.at')) <= julianday(?2)
 ORDER BY first_seen, key
