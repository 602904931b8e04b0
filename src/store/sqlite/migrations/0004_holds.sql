-- The kill switch and the posting rules' limits.
-- A pause holds the sends it covers (`outbox.state = 'held'`) until it is lifted, by hand
-- or when `until` passes. Lifted pauses stay, for the record.
CREATE TABLE pauses (
    id         INTEGER PRIMARY KEY,
    scope      TEXT    NOT NULL,   -- all | campaigns | account | campaign
    name       TEXT,               -- the account or campaign
    until      INTEGER,
    reason     TEXT    NOT NULL,
    paused_by  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    lifted_at  INTEGER,
    lifted_by  TEXT
);
CREATE INDEX pauses_in_force ON pauses (id) WHERE lifted_at IS NULL;

-- Why a send waits or was dropped (a pause, a limit), with the rule named.
ALTER TABLE outbox ADD COLUMN note TEXT;
CREATE INDEX outbox_held ON outbox (id) WHERE state = 'held';
-- What the limits count: recent sends, at the moment each was claimed to go out.
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
CREATE INDEX outbox_recent ON outbox (claimed_at) WHERE state IN ('sent', 'sending');
