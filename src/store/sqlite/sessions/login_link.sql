SELECT id, person, sha256, created_at, expires_at, used_at
FROM login_links
WHERE sha256 = ?1
