-- livecode store (PostgreSQL), migration 0004 (issue 23's clock strand): where each session's
-- interview is (waiting, live, submitted), its mode (live or take_home) and the stored times
-- its clock is computed from. A session without a row is a live interview that started when
-- it was made.
CREATE TABLE interviews (
    session_id         uuid PRIMARY KEY,
    mode               text NOT NULL,
    stage              text NOT NULL,
    started_at         timestamptz,
    submitted_at       timestamptz,
    time_limit_seconds bigint,
    link_expires_at    timestamptz,
    clock_hidden       boolean NOT NULL DEFAULT false
);
