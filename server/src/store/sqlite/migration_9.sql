-- livecode store, migration 9: whether the webhook has delivered an event (the outbox a
-- replica that takes a session over resumes). Events stored before it count as delivered:
-- nothing is known of them, and resending old events would be worse than not.
ALTER TABLE events ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
UPDATE events SET delivered = 1;
