INSERT INTO tokens (person, name, sha256, created_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5)
