-- Keeps a connector's handle for a send while its claim is the owner's.
UPDATE outbox SET handle = ?3, updated_at = ?4
  WHERE id = ?1 AND state = 'sending' AND claimed_by = ?2
