-- livecode store, migration 6: the version each of a session's files is at (edited together),
-- so a restart goes on from it, and a counter that keeps an older write of the files from
-- landing after a newer one.
ALTER TABLE sessions ADD COLUMN file_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN files_rev INTEGER NOT NULL DEFAULT 0;
