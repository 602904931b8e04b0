SELECT name, state FROM crisis_plans ORDER BY name
