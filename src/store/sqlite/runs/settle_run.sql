-- A running run whose steps have all run and whose sends are all settled is finished:
-- failed if any send failed (the first failure becomes the run's reason); skipped if none
-- was sent and some were dropped after a pause (the first one's note becomes the reason);
-- succeeded otherwise (keeping a note such as "triggered by hand").
UPDATE runs
   SET state = CASE WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state = 'failed')
                    THEN 'failed'
                    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state = 'skipped')
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state = 'sent')
                    THEN 'skipped'
                    ELSE 'succeeded' END,
       reason = coalesce((SELECT o.account || ': ' || o.error FROM outbox o WHERE o.run_id = runs.id AND o.state = 'failed' ORDER BY o.id LIMIT 1),
                         CASE WHEN NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state = 'sent')
                              THEN (SELECT o.note FROM outbox o WHERE o.run_id = runs.id AND o.state = 'skipped' ORDER BY o.id LIMIT 1) END,
                         reason),
       updated_at = ?2
 WHERE id = ?1
   AND state = 'running'
   AND current_step >= json_array_length(steps)
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = runs.id AND o.state IN ('pending', 'sending', 'held'))
