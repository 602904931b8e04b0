SELECT seq, item FROM feed_items WHERE feed = ?1 AND seq > ?2 ORDER BY seq LIMIT +?3
