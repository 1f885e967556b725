-- Caller ratings: every call offered for rating, rated or not, so that response rates can be
-- reported. Times are integer milliseconds since the Unix epoch (UTC), as in 0001.
-- As in 0001, stored enum strings (kind, rating, not_rated) have no CHECK: new values must not
-- need a table rebuild; the reader refuses strings it does not know.
CREATE TABLE ratings (
    id        TEXT    NOT NULL PRIMARY KEY,
    -- The daemon's call id. No foreign key: the rating is written while the call is up,
    -- before its call record.
    call_id   TEXT    NOT NULL,
    -- How the rating was given: 'keypad' (end of call); the return-visit survey will add
    -- 'survey_result' and 'survey_attitude', one row per question.
    kind      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    seat      TEXT,
    unit      TEXT,
    -- 'satisfied', 'basically_satisfied', 'dissatisfied'; NULL when not rated.
    rating    TEXT,
    -- Why not rated: 'caller_hung_up', 'no_digit', 'invalid_digits'; NULL when rated.
    not_rated TEXT,
    -- Exactly one of the two: a row is either a rating or the reason there is none.
    CHECK ((rating IS NULL) <> (not_rated IS NULL)),
    -- One rating per call and kind; the store maps a violation to AlreadyRated.
    UNIQUE (call_id, kind)
) STRICT;

-- Monthly reports scan by time window.
CREATE INDEX ratings_at ON ratings (at);
