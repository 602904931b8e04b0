-- What migrations a store has applied, by name, with the checksum (SHA-256 of the file)
-- each had when it was applied.
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
