SELECT MIN(loaded_at) FROM revisions
