-- A running run whose steps have all run and whose sends are all settled is finished:
-- failed if any send failed (the first failure becomes the run's reason), succeeded
-- otherwise (keeping a note such as "triggered by hand").
UPDATE runs
   SET state = CASE WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state = 'failed')
                    THEN 'failed' ELSE 'succeeded' END,
       reason = coalesce((SELECT o.account || ': ' || o.error FROM outbox o WHERE o.run_id = runs.id AND o.state = 'failed' ORDER BY o.id LIMIT 1), reason),
       updated_at = ?2
 WHERE id = ?1
   AND state = 'running'
   AND current_step >= json_array_length(steps)
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state IN ('pending', 'sending'))
