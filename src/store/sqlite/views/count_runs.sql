SELECT state, count(*) FROM runs GROUP BY state ORDER BY state
