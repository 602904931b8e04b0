SELECT cursor FROM reply_cursors WHERE account = ?1
