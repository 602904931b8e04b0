SELECT taken_at, followers, posts, likes, reposts, replies FROM metrics
  WHERE account = ?1 ORDER BY taken_at DESC LIMIT 1
