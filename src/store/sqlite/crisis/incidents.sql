SELECT id, plan, status, level, opened_at, resolved_at, report FROM incidents ORDER BY id DESC
