-- The finished runs fired before ?1, when no post replies to an earlier one.
INSERT INTO temp.forgotten_runs (id)
SELECT r.id FROM runs r
 WHERE r.fire_at < ?1
   AND r.state NOT IN ('running', 'waiting')
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = r.id AND o.state IN ('pending', 'sending', 'held'))
