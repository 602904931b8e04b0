SELECT id, person, name, sha256, created_at, expires_at, revoked_at
FROM tokens
WHERE sha256 = ?1
