-- Sends that count against the limits: sent or sending since ?1, and pending ones due after
-- ?2, in any order (the caller sorts them). Two parts, so each reads its own index rather
-- than the whole outbox.
-- Direct messages and notices to the team are not posts: no limit counts them.
SELECT id, account, playbook, at FROM (
    SELECT o.id, o.account, r.playbook, o.claimed_at AS at, o.payload
      FROM outbox o JOIN runs r ON r.id = o.run_id
     WHERE o.state IN ('sent', 'sending') AND o.claimed_at >= ?1
    UNION ALL
    SELECT o.id, o.account, r.playbook, o.next_attempt_at AS at, o.payload
      FROM outbox o JOIN runs r ON r.id = o.run_id
     WHERE o.state = 'pending' AND o.next_attempt_at > ?2
)
 WHERE json_extract(payload, '$.direct_to') IS NULL
   AND coalesce(json_extract(payload, '$.notice'), 0) = 0
