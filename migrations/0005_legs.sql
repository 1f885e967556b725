-- The legs of a call and what happened between them: the caller's leg, each seat and unit
-- contact rung, and the consultation, conference and transfer events. Times are integer
-- milliseconds since the Unix epoch (UTC), as in 0001.

-- No foreign key to calls: legs and events are written while the call is up, before its
-- call record.
CREATE TABLE call_legs (
    id          TEXT    NOT NULL PRIMARY KEY,
    call_id     TEXT    NOT NULL,
    -- 'caller', 'seat' or 'unit'.
    role        TEXT    NOT NULL,
    -- The caller's number, the seat's user, or the unit contact as dialled.
    party       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at    INTEGER NOT NULL,
    -- How the leg ended: 'bye_by_them', 'bye_by_us', 'cancelled', 'failed:486'...
    ended_how   TEXT    NOT NULL
) STRICT;

CREATE INDEX call_legs_call_id ON call_legs (call_id);

CREATE TABLE call_events (
    -- The rowid: write order, which breaks ties between events in the same millisecond.
    seq     INTEGER NOT NULL PRIMARY KEY,
    call_id TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    -- 'consult', 'unit_answered', 'unit_failed', 'conference', 'transfer', 'unit_dropped',
    -- 'consult_cancelled', 'unit_left', 'refer_refused'...
    kind    TEXT    NOT NULL,
    detail  TEXT
) STRICT;

CREATE INDEX call_events_call_id ON call_events (call_id);
