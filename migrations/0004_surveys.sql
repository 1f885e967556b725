-- Return-visit surveys (回访): one row per survey as last recorded, and one per call attempt.
-- Times are integer milliseconds since the Unix epoch (UTC), as in 0001. As in 0001, stored
-- enum strings (status, outcome) have no CHECK: new values must not need a table rebuild; the
-- reader refuses strings it does not know. The answers themselves are rows of `ratings`
-- (kinds 'survey_result' and 'survey_attitude', call_id = the survey id).

-- A survey is written when requested and again whenever it moves on; the store upserts by id
-- (INSERT ... ON CONFLICT (id) DO UPDATE), so the row always holds the latest record. Not
-- INSERT OR REPLACE: that deletes the old row first, which would take its attempts with it
-- through the foreign key below.
CREATE TABLE surveys (
    id           TEXT    NOT NULL PRIMARY KEY,
    number       TEXT    NOT NULL,
    -- The matter (工单) the survey is about.
    ticket       TEXT    NOT NULL,
    unit         TEXT,
    requested_at INTEGER NOT NULL,
    -- 'queued', 'completed', 'declined', 'gave_up', 'refused_dnc'.
    status       TEXT    NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX surveys_requested_at ON surveys (requested_at);
CREATE INDEX surveys_ticket ON surveys (ticket);

-- Every call attempt of a survey: evidence that the citizen was tried, and when.
CREATE TABLE survey_attempts (
    -- The survey row is written when the survey is requested, before any attempt.
    survey_id TEXT    NOT NULL REFERENCES surveys (id),
    -- 1 for the first attempt, then 2, 3...
    n         INTEGER NOT NULL CHECK (n >= 1),
    -- When the attempt was dialled.
    at        INTEGER NOT NULL,
    -- 'answered', 'no_answer', 'busy', 'failed'.
    outcome   TEXT    NOT NULL,
    PRIMARY KEY (survey_id, n)
) STRICT;

CREATE INDEX survey_attempts_at ON survey_attempts (at);
