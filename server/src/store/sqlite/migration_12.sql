-- livecode store, migration 12 (issue 23's scorecards): a session's rubric, and each
-- interviewer's scorecard against it (its ratings and comments as JSON in `content`).
CREATE TABLE IF NOT EXISTS session_rubrics (
    session_id  TEXT PRIMARY KEY,
    rubric      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scorecards (
    session_id    TEXT NOT NULL,
    author_id     TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    content       TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    submitted_at  TEXT,
    PRIMARY KEY (session_id, author_id)
);
