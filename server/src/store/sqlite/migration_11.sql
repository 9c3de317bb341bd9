-- livecode store, migration 11 (issue 23's clock strand): where each session's interview is
-- (waiting, live, submitted), its mode (live or take_home) and the stored times its clock is
-- computed from. A session without a row is a live interview that started when it was made.
CREATE TABLE IF NOT EXISTS interviews (
    session_id         TEXT PRIMARY KEY,
    mode               TEXT NOT NULL,
    stage              TEXT NOT NULL,
    started_at         TEXT,
    submitted_at       TEXT,
    time_limit_seconds INTEGER,
    link_expires_at    TEXT,
    clock_hidden       INTEGER NOT NULL DEFAULT 0
);
