SELECT key, entry FROM contest_entries
 WHERE contest = ?1
   AND CASE WHEN json_valid(entry) THEN json_extract(entry, '$.checked_at_close') END IS NULL
   AND julianday(CASE WHEN json_valid(entry) THEN json_extract(entry, '$.at') END) <= julianday(?2)
 ORDER BY first_seen, key
