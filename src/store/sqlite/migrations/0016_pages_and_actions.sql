-- A page of one playbook's runs (newest first) is read from where it starts, whatever the
-- number of runs; `runs_by_fire` (with the rowid, the run's id) serves the other pages.
CREATE INDEX runs_by_playbook ON runs (playbook, fire_at);

-- People's actions, in the order they were stored, whichever process took them (`crier
-- approve` in a terminal, the API of a running server): a running server reads the rows
-- after the last it read and tells its event stream. Written by triggers on the tables
-- the actions write, so no writer can forget it; `ref` is the row of that table.
CREATE TABLE actions (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT    NOT NULL,   -- decided | paused | resumed | incident | triggered
    ref  INTEGER NOT NULL,
    at   INTEGER NOT NULL,
    note TEXT               -- a triggered run's reason as first written (who fired it)
);
CREATE TRIGGER actions_decided AFTER INSERT ON approval_decisions BEGIN
    INSERT INTO actions (kind, ref, at) VALUES ('decided', NEW.id, NEW.at);
END;
CREATE TRIGGER actions_paused AFTER INSERT ON pauses BEGIN
    INSERT INTO actions (kind, ref, at) VALUES ('paused', NEW.id, NEW.created_at);
END;
CREATE TRIGGER actions_resumed AFTER UPDATE OF lifted_at ON pauses
    WHEN OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL BEGIN
    INSERT INTO actions (kind, ref, at) VALUES ('resumed', NEW.id, NEW.lifted_at);
END;
CREATE TRIGGER actions_incident AFTER INSERT ON incident_actions BEGIN
    INSERT INTO actions (kind, ref, at) VALUES ('incident', NEW.id, NEW.at);
END;
CREATE TRIGGER actions_triggered AFTER INSERT ON runs
    WHEN NEW.reason LIKE 'triggered by hand%' BEGIN
    INSERT INTO actions (kind, ref, at, note) VALUES ('triggered', NEW.id, NEW.created_at, NEW.reason);
END;
