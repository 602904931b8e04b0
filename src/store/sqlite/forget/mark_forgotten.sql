-- The finished runs fired before ?1, but for the latest sent post of each item and account
-- (what a reply to the item's last post reads).
INSERT INTO temp.forgotten_runs (id)
SELECT r.id FROM runs r
 WHERE r.fire_at < ?1
   AND r.state NOT IN ('running', 'waiting')
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.run_id = r.id AND o.state IN ('pending', 'sending', 'held'))
   AND r.id NOT IN (SELECT latest.run_id FROM (
         SELECT o.run_id AS run_id, MAX(r2.fire_at) FROM outbox o JOIN runs r2 ON r2.id = o.run_id
          WHERE o.state = 'sent'
          GROUP BY r2.playbook, r2.item, o.account) AS latest)
