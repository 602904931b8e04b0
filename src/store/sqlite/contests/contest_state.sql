SELECT state FROM contests WHERE name = ?1
