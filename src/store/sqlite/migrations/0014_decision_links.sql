-- Keys the server signs with (the links in notices that open a decision's page), made once
-- per store so a restart keeps the links already sent valid.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Where reading the replies to notices stopped, per notify account.
CREATE TABLE reply_cursors (
    account TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
