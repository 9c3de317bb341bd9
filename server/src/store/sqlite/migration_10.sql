-- livecode store, migration 10: interview templates (kept whole, as questions are), and each
-- templated session's way through its template (the question now, the furthest reached, the
-- current question's clock, and the code each question left: candidate content).
CREATE TABLE IF NOT EXISTS templates (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_created ON templates (created_by, seq);

CREATE TABLE IF NOT EXISTS session_templates (
    session_id  TEXT PRIMARY KEY,
    body        TEXT NOT NULL
);
