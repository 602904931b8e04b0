-- crier's first schema. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE revisions (
    id        INTEGER PRIMARY KEY,
    digest    TEXT    NOT NULL UNIQUE,
    loaded_at INTEGER NOT NULL
);

-- The last fire handled per item: what "missed while down" is measured from.
CREATE TABLE cursors (
    playbook  TEXT    NOT NULL,
    item      TEXT    NOT NULL,
    last_fire INTEGER NOT NULL,
    PRIMARY KEY (playbook, item)
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    playbook     TEXT    NOT NULL,
    item         TEXT    NOT NULL,
    fire_at      INTEGER NOT NULL,
    revision     INTEGER NOT NULL REFERENCES revisions (id),
    state        TEXT    NOT NULL,
    reason       TEXT,
    steps        TEXT    NOT NULL,   -- JSON: the pinned step specs
    current_step INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (playbook, item, fire_at)
);
CREATE INDEX runs_by_state ON runs (state);
CREATE INDEX runs_by_fire ON runs (fire_at);

CREATE TABLE steps (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    idx        INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    wake_at    INTEGER,
    reason     TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX steps_waking ON steps (wake_at) WHERE state = 'waiting';

-- One row per (run, step, account): the intent, committed before the request leaves.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    step            INTEGER NOT NULL,
    account         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    payload         TEXT    NOT NULL,   -- JSON: the OutgoingPost
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    check_first     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    remote_id       TEXT,
    error           TEXT,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_by_run ON outbox (run_id);

-- Every failed attempt and why (a success is recorded on its outbox row).
CREATE TABLE attempts (
    id        INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    at        INTEGER NOT NULL,
    outcome   TEXT    NOT NULL,
    detail    TEXT
);
