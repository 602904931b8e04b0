SELECT cursor FROM feed_cursors WHERE feed = ?1
