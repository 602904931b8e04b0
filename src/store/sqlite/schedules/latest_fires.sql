SELECT playbook, item, last_fire FROM cursors ORDER BY last_fire DESC, playbook, item LIMIT +?1
