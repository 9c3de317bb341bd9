-- livecode store (PostgreSQL), migration 2: whether the webhook delivered an event (the
-- outbox a replica that takes a session over resumes). Events stored before it count as
-- delivered: nothing is known of them, and resending old events would be worse than not.
ALTER TABLE events ADD COLUMN delivered boolean NOT NULL DEFAULT false;
UPDATE events SET delivered = true;
-- Sessions by creator, for the cluster-wide quotas.
CREATE INDEX sessions_created_by ON sessions (created_by, created_at);
