-- A store that forgets its finished runs holds about a day of them, and no one acts on it
-- by hand: the indexes that only a service's queries read (claims, leases, per-account
-- claims, a playbook's pages), those that find rows in a long history (runs by state,
-- sends by account or claim time), and the journal entry of a run triggered by hand
-- (whose trigger makes SQLite keep a statement journal for every run written) cost more
-- on every write than they could save on tables that small.
DROP INDEX outbox_leases;
DROP INDEX outbox_claims;
DROP INDEX outbox_due_by_account;
DROP INDEX runs_by_playbook;
DROP INDEX runs_by_state;
DROP INDEX outbox_recent;
DROP INDEX outbox_sent_by_account;
DROP TRIGGER actions_triggered;
