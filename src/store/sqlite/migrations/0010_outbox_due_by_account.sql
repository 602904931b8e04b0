-- Due sends by account: a claim that leaves some accounts out (their dispatcher has as many
-- requests in flight as it allows) reads the others' due sends without walking past the
-- left-out ones.
CREATE INDEX outbox_due_by_account ON outbox (account, next_attempt_at, id) WHERE state = 'pending';
