SELECT o.id, o.account, r.playbook,
      CASE WHEN o.state = 'pending' THEN o.next_attempt_at ELSE o.claimed_at END
 FROM outbox o JOIN runs r ON r.id = o.run_id
  WHERE ((o.state IN ('sent', 'sending') AND o.claimed_at >= ?1)
    OR (o.state = 'pending' AND o.next_attempt_at > ?2))
  -- Direct messages and notices to the team are not posts: no limit counts them.
  AND json_extract(o.payload, '$.direct_to') IS NULL
  AND coalesce(json_extract(o.payload, '$.notice'), 0) = 0
  ORDER BY o.id
