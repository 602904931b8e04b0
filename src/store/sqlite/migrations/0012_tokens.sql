-- People's API tokens. Only a token's SHA-256 is kept: the token itself is shown once, when
-- it is made. A revoked token keeps its row (and when it was revoked) for the record.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    person TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
