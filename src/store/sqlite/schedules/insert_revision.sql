INSERT INTO revisions (digest, loaded_at) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING
