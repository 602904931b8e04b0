SELECT key FROM server_keys WHERE name = ?1
