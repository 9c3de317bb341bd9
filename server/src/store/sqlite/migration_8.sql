-- livecode store, migration 8: whether a run's build came from the build cache, written with
-- the run's result. Runs stored before it were shown with a guess, kept here as their value
-- since nothing better is known of them: a build of 0 ms was the cache's (the runner reports
-- a hit as 0 ms; a build that ran all but always takes a millisecond or more).
ALTER TABLE runs ADD COLUMN build_cached INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET build_cached = 1 WHERE build_ms = 0;
