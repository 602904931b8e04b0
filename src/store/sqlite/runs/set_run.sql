UPDATE runs SET current_step = ?2, state = ?3, reason = coalesce(?4, reason), updated_at = ?5 WHERE id = ?1
