SELECT received_at, runs FROM hook_events WHERE hook = ?1 AND key = ?2
