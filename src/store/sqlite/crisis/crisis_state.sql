SELECT state FROM crisis_plans WHERE name = ?1
