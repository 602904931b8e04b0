INSERT INTO crisis_plans (name, state, updated_at) VALUES (?1, ?2, ?3)
  ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
