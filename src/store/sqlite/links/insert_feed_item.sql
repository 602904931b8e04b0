INSERT INTO feed_items (feed, key, item, stored_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (feed, key) DO NOTHING
