-- livecode store, migration 5: the documents of a session's other languages (a switch keeps
-- the one it leaves, by environment name, as JSON), so switching back finds the code there.
ALTER TABLE sessions ADD COLUMN documents TEXT NOT NULL DEFAULT '{}';
