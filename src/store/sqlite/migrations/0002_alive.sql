-- When the engine was last known to be running: where an item never fired before starts
-- counting missed fires after downtime (so a fresh item needs no cursor row of its own).
CREATE TABLE alive (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
