UPDATE login_links SET used_at = ?2
WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2
