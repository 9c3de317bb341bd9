-- livecode store, migration 7: the code a run ran when it was not the session's document
-- (a REST run with `code`, a socket run with its own code); NULL when it ran the document,
-- whose text at any moment the updates already tell.
ALTER TABLE runs ADD COLUMN code TEXT;
