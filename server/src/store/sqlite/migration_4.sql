-- livecode store, migration 4: interview questions (kept whole, as JSON: they are read and
-- written as one), the question a session was created with, and its test runs' reports.
CREATE TABLE IF NOT EXISTS questions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_questions (
    session_id  TEXT PRIMARY KEY,
    question_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS test_runs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS test_runs_session ON test_runs (session_id, seq);
