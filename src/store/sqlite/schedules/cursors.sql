SELECT playbook, item, last_fire FROM cursors ORDER BY playbook, item
