-- livecode store, migration 2: a bounded edit history and who created a session.
-- base_version: the version `initial_document` is at; older updates were folded into it.
-- created_by: "key" for the API key, "ip:<address>" for an open-mode client.
ALTER TABLE sessions ADD COLUMN base_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_by, created_at);
