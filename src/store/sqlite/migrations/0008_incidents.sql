-- Crisis plans: each plan's runner state (JSON the crisis module owns), where each watched
-- account's mentions were read up to, the mentions read (once per network id, in the order
-- read), the incidents (their report as JSON), and what people did to them. A person's
-- action is recorded here by the CLI and applied, in order, by the running service, which
-- is the only writer of incidents.
CREATE TABLE crisis_plans (
    name       TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE crisis_cursors (
    plan       TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    cursor     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plan, account)
);

-- AUTOINCREMENT: a number is never reused once old mentions are forgotten, so a plan's
-- "read up to" mark stays valid.
CREATE TABLE crisis_mentions (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    plan    TEXT    NOT NULL,
    key     TEXT    NOT NULL,   -- network:id
    at      INTEGER NOT NULL,   -- when it was made
    author  TEXT    NOT NULL,
    text    TEXT    NOT NULL,
    read_at INTEGER NOT NULL,
    UNIQUE (plan, key)
);
CREATE INDEX crisis_mentions_by_time ON crisis_mentions (plan, at);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY,
    plan        TEXT    NOT NULL,
    status      TEXT    NOT NULL,   -- open | resolved
    level       TEXT    NOT NULL,
    opened_at   INTEGER NOT NULL,
    resolved_at INTEGER,
    report      TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE incident_actions (
    id         INTEGER PRIMARY KEY,
    incident   INTEGER NOT NULL REFERENCES incidents (id),
    action     TEXT    NOT NULL,   -- JSON
    at         INTEGER NOT NULL,
    applied_at INTEGER,
    outcome    TEXT                -- NULL when applied; why, when refused
);
CREATE INDEX incident_actions_pending ON incident_actions (incident) WHERE applied_at IS NULL;
