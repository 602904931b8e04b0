-- Many mentions of plan ?1, read at ?2, in one statement: `{rows}` is replaced by one
-- `(?1, ?k, ?k+1, ?k+2, ?k+3, ?2)` per mention (its key, time, author and text), k = 3, 7, …
-- A key already stored, or met earlier in the same statement, is skipped.
INSERT INTO crisis_mentions (plan, key, at, author, text, read_at) VALUES {rows}
  ON CONFLICT (plan, key) DO NOTHING
