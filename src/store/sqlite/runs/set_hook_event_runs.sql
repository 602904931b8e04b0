UPDATE hook_events SET runs = ?3 WHERE hook = ?1 AND key = ?2
