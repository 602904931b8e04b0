SELECT id FROM revisions WHERE digest = ?1
