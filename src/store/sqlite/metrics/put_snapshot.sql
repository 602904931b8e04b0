INSERT OR REPLACE INTO metrics
  (account, taken_at, followers, posts, likes, reposts, replies)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
