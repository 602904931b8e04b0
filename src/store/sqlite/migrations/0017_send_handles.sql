-- What a connector keeps while it makes a send in several requests (an Instagram or Threads
-- media container's id, a YouTube upload session's address), so a retry after an unknown
-- outcome, in any process, continues from it instead of starting a second post.
ALTER TABLE outbox ADD COLUMN handle TEXT;
