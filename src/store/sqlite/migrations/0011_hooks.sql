-- Inbound events (hooks): one row per event, keyed by its hook and its idempotency key,
-- written in the transaction of the runs it fired (their ids in `runs`, a JSON list), so a
-- retry of an acknowledged event finds the first answer and fires nothing.
CREATE TABLE hook_events (
    hook TEXT NOT NULL,
    key TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    runs TEXT NOT NULL,
    PRIMARY KEY (hook, key)
) WITHOUT ROWID;
