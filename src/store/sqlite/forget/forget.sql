DELETE FROM attempts WHERE outbox_id IN (SELECT o.id FROM outbox o JOIN temp.forgotten_runs f ON f.id = o.run_id);
DELETE FROM outbox WHERE run_id IN (SELECT id FROM temp.forgotten_runs);
DELETE FROM steps WHERE run_id IN (SELECT id FROM temp.forgotten_runs);
DELETE FROM runs WHERE id IN (SELECT id FROM temp.forgotten_runs);
DELETE FROM temp.forgotten_runs;
