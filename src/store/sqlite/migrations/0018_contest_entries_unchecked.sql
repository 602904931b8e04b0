-- The entries not read again at the close yet, by contest: what the freeze waits for and
-- the recheck reads, without going through every entry of a contest each time. (A value
-- that is not JSON is not an error here: the contest module reports it when it reads it.)
CREATE INDEX contest_entries_unchecked ON contest_entries (contest)
  WHERE CASE WHEN json_valid(entry) THEN json_extract(entry, '$.checked_at_close') END IS NULL;
