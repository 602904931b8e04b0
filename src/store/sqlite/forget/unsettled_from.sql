-- The earliest fire of a run still going (its lines may still change).
SELECT MIN(fire_at) FROM runs WHERE state IN ('running', 'waiting')
