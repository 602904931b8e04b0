-- The entries not read again at the close yet, by contest: what the freeze waits for and
-- the recheck reads, without going through every entry of a contest each time.
CREATE INDEX contest_entries_unchecked ON contest_entries (contest)
  WHERE json_extract(entry, '$.checked_at_close') IS NULL;
