INSERT INTO incidents (id, plan, status, level, opened_at, resolved_at, report, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, level = excluded.level,
    resolved_at = excluded.resolved_at, report = excluded.report, updated_at = excluded.updated_at
