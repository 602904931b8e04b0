-- The accounts with pending sends, one index seek each (however many sends they have).
WITH RECURSIVE accounts(account) AS (
    SELECT min(account) FROM outbox WHERE state = 'pending'
    UNION ALL
    SELECT (SELECT min(o.account) FROM outbox o WHERE o.state = 'pending' AND o.account > a.account)
      FROM accounts a WHERE a.account IS NOT NULL
)
SELECT account FROM accounts WHERE account IS NOT NULL
