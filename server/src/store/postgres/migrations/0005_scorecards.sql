-- livecode store (PostgreSQL), migration 5 (issue 23's scorecards): a session's rubric, and
-- each interviewer's scorecard against it (its ratings and comments as jsonb in `content`).
CREATE TABLE session_rubrics (
    session_id  uuid PRIMARY KEY,
    rubric      jsonb NOT NULL
);
CREATE TABLE scorecards (
    session_id    uuid NOT NULL,
    author_id     text NOT NULL,
    author_name   text NOT NULL,
    content       jsonb NOT NULL,
    state         text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    submitted_at  timestamptz,
    PRIMARY KEY (session_id, author_id)
);
