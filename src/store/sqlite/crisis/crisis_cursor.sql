SELECT cursor FROM crisis_cursors WHERE plan = ?1 AND account = ?2
