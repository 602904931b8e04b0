INSERT INTO sessions (person, sha256, csrf, created_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5)
