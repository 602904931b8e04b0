-- Contests: each contest's state (phase, the frozen list, the committed and revealed seed,
-- the result) and every entry seen, once per (network, id), as JSON the contest module owns.
CREATE TABLE contests (
    name       TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE contest_entries (
    contest    TEXT    NOT NULL,
    key        TEXT    NOT NULL,   -- network:id
    entry      TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (contest, key)
);
