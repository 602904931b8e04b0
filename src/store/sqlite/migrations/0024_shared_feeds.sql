-- Feeds several readers share: a network whose reads confirm what they read (a Telegram
-- bot's `getUpdates`) is read once per feed, its items kept here for every reader, each
-- going through them from its own cursor (`seq`).
CREATE TABLE feed_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    feed TEXT NOT NULL,
    key TEXT NOT NULL,
    item TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    UNIQUE (feed, key)
);
CREATE INDEX feed_items_by_age ON feed_items (feed, stored_at);

-- Where reading each shared feed from its network stopped.
CREATE TABLE feed_cursors (
    feed TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
