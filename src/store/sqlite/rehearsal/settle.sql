-- Settles run ?1 as `runs/settle_run` would, with the state ?2 and reason ?3 its sends say,
-- at ?4: only a running run whose steps have all run.
UPDATE runs SET state = ?2, reason = coalesce(?3, reason), updated_at = ?4
 WHERE id = ?1
   AND state = 'running'
   AND current_step >= json_array_length(steps)
