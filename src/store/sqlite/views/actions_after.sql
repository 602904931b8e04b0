SELECT a.id, a.kind, a.ref, a.at,
       d.approval_id, ap.playbook, ap.item, d.person, d.decision, ap.state,
       p.scope, p.name, p.paused_by, p.lifted_by,
       ia.incident, ia.action,
       r.playbook, r.item, a.note
  FROM actions a
  LEFT JOIN approval_decisions d ON a.kind = 'decided' AND d.id = a.ref
  LEFT JOIN approvals ap ON ap.id = d.approval_id
  LEFT JOIN pauses p ON a.kind IN ('paused', 'resumed') AND p.id = a.ref
  LEFT JOIN incident_actions ia ON a.kind = 'incident' AND ia.id = a.ref
  LEFT JOIN runs r ON a.kind = 'triggered' AND r.id = a.ref
  WHERE a.id > ?1
  ORDER BY a.id LIMIT +?2
