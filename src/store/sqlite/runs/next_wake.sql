SELECT min(wake_at) FROM steps WHERE state = 'waiting'
