-- A winner disqualified (`crier contest disqualify`, the API) joins the journal of people's
-- actions: the save that adds a substitution to a contest's state writes its row. The
-- state is rewritten by later saves, so the row keeps the contest and that substitution
-- (who was left out, who wins instead, who decided) as JSON in `note`; `ref` is the
-- contest's rowid.
CREATE TRIGGER actions_disqualified AFTER UPDATE OF state ON contests
    WHEN json_valid(NEW.state)
     AND json_array_length(NEW.state, '$.substitutions')
         > coalesce(CASE WHEN json_valid(OLD.state)
                         THEN json_array_length(OLD.state, '$.substitutions') END, 0) BEGIN
    INSERT INTO actions (kind, ref, at, note) VALUES ('disqualified', NEW.rowid, NEW.updated_at,
        json_object('contest', NEW.name,
                    'substitution', json_extract(NEW.state, '$.substitutions['
                        || (json_array_length(NEW.state, '$.substitutions') - 1) || ']')));
END;
