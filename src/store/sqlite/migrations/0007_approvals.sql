-- Approvals of posts: one request per fire of a post that needs one, opened ahead of its
-- deadline (with the run that notifies its approvers), and every decision, who and when.
CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY,
    playbook   TEXT    NOT NULL,
    item       TEXT    NOT NULL,
    fire_at    INTEGER NOT NULL,
    approvers  TEXT    NOT NULL,   -- JSON: the people who may decide
    need       TEXT    NOT NULL,   -- any | all
    deadline   INTEGER NOT NULL,
    on_timeout TEXT    NOT NULL,   -- hold | skip | send
    text       TEXT    NOT NULL,
    accounts   TEXT    NOT NULL,   -- JSON
    state      TEXT    NOT NULL,   -- pending | approved | rejected
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (playbook, item, fire_at)
);
CREATE INDEX approvals_pending ON approvals (fire_at) WHERE state = 'pending';

CREATE TABLE approval_decisions (
    id          INTEGER PRIMARY KEY,
    approval_id INTEGER NOT NULL REFERENCES approvals (id),
    person      TEXT    NOT NULL,
    decision    TEXT    NOT NULL,   -- approve | reject
    note        TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX approval_decisions_by_approval ON approval_decisions (approval_id);
