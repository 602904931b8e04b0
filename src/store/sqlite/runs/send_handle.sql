-- The handle a connector kept for a send.
SELECT handle FROM outbox WHERE id = ?1
