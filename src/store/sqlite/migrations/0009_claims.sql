-- Claims with an owner and a lease, and sends marked in flight one by one. A claimed send
-- (`sending`) has `claimed_by` and `lease_until`; `in_flight_at` is set just before its
-- request leaves, so after a crash only the sends whose request had left are in doubt.
-- `first_attempt_at` is when the first request left: a lookup after an unknown outcome
-- searches from there, whichever process looks.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
ALTER TABLE outbox ADD COLUMN in_flight_at INTEGER;
ALTER TABLE outbox ADD COLUMN first_attempt_at INTEGER;
-- Sends left `sending` by an older crier were claimed and may have left: in doubt now.
UPDATE outbox SET in_flight_at = coalesce(claimed_at, updated_at) WHERE state = 'sending';
CREATE INDEX outbox_leases ON outbox (lease_until) WHERE state = 'sending';
CREATE INDEX outbox_claims ON outbox (claimed_by) WHERE state = 'sending';
