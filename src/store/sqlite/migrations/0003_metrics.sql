-- Snapshots of each account's metrics, as its network reported them: the latest one is what
-- `metrics(account)` in conditions reads.
CREATE TABLE metrics (
    account   TEXT    NOT NULL,
    taken_at  INTEGER NOT NULL,
    followers INTEGER NOT NULL,
    posts     INTEGER NOT NULL,
    likes     INTEGER NOT NULL,
    reposts   INTEGER NOT NULL,
    replies   INTEGER NOT NULL,
    PRIMARY KEY (account, taken_at)
);
CREATE INDEX outbox_sent_by_account ON outbox (account, updated_at) WHERE state = 'sent';
