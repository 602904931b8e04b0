INSERT INTO login_links (person, sha256, created_at, expires_at)
VALUES (?1, ?2, ?3, ?4)
