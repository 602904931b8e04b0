DELETE FROM feed_items WHERE feed = ?1 AND stored_at < ?2
