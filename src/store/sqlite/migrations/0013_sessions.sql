-- The dashboard's sign-ins. A session is a browser signed in as a person; a login link is a
-- one-time address that signs a browser in. Only SHA-256 digests of their secrets are kept.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    person TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    -- The token every form of this session carries (not a secret from the person).
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
);

CREATE TABLE login_links (
    id INTEGER PRIMARY KEY,
    person TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
