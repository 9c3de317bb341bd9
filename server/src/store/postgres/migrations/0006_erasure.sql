-- livecode store (PostgreSQL), migration 6: erasure (retention, `DELETE …?erase=true`).
-- erased_at: when the session's content was erased (NULL: it was not); the row stays as its
-- tombstone. The index finds ended sessions not yet erased, for the retention sweep.
ALTER TABLE sessions ADD COLUMN erased_at timestamptz;
CREATE INDEX sessions_erasable ON sessions (last_activity_at) WHERE erased_at IS NULL;
