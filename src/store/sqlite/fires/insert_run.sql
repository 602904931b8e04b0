INSERT INTO runs (playbook, item, fire_at, revision, state, reason, steps, current_step, created_at, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
  ON CONFLICT (playbook, item, fire_at) DO NOTHING
