SELECT at FROM alive WHERE id = 1
