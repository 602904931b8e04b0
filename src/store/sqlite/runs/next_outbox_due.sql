SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'
