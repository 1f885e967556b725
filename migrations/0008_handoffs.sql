-- Hand-offs (issue 11): a matter a seat hands to a unit, on the clock of its category. One row
-- per hand-off, rewritten as it changes (opened, dialled, extended, breached, made, closed), so
-- that an open hand-off is on disk from the moment it opens. Times are integer milliseconds
-- since the Unix epoch (UTC), as in 0001; limits are whole seconds.
CREATE TABLE handoffs (
    id                  TEXT    NOT NULL PRIMARY KEY,
    -- The citizen's call the seat marked.
    call_id             TEXT    NOT NULL,
    seat                TEXT    NOT NULL,
    -- The unit that answered (or, before that, the first unit dialled).
    unit                TEXT,
    -- A [handoffs] category name: 'major', 'general', 'complex', or one the site configured.
    category            TEXT    NOT NULL,
    opened_at           INTEGER NOT NULL,
    -- The seat's answer: the clock counts from here.
    started_at          INTEGER NOT NULL,
    first_dial_at       INTEGER,
    made_at             INTEGER,
    limit_secs          INTEGER NOT NULL,
    extended_at         INTEGER,
    extended_limit_secs INTEGER,
    extension_reason    TEXT,
    breached_at         INTEGER,
    -- NULL while open; then 'in_time', 'late', 'closed_not_needed', 'unit_unreachable' or
    -- 'interrupted' (the daemon stopped with it open).
    outcome             TEXT,
    closed_at           INTEGER,
    closed_reason       TEXT,
    -- The call during which a unit's contact answered (the citizen's call, or the seat's own
    -- call to the unit after the citizen hung up).
    made_by_call        TEXT
) STRICT;

CREATE INDEX handoffs_opened_at ON handoffs (opened_at);
CREATE INDEX handoffs_open ON handoffs (outcome) WHERE outcome IS NULL;
