INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?1, ?2, ?3)
