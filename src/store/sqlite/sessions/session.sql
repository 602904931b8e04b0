SELECT id, person, sha256, csrf, created_at, expires_at, ended_at
FROM sessions
WHERE sha256 = ?1
