-- The queue: a call's time in a queue, the seats it was offered to, seat state changes and
-- callback requests. Times are integer milliseconds since the Unix epoch (UTC), as in 0001.
-- As in 0001, stored enum strings (offer outcome, seat states) have no CHECK: new values
-- must not need a table rebuild; the reader refuses outcomes it does not know.

-- The queue part of a call record, written in the same transaction as its `calls` row.
-- Its own table rather than nullable columns of `calls`: a call either has every one of
-- these or none, and a row here says so without a rule spanning five nullable columns.
CREATE TABLE call_queue (
    call_id    TEXT    NOT NULL PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
    queue      TEXT    NOT NULL,
    entered_at INTEGER NOT NULL,
    -- Until answered, abandoned or overflowed.
    wait_ms    INTEGER NOT NULL CHECK (wait_ms >= 0),
    abandoned  INTEGER NOT NULL CHECK (abandoned IN (0, 1)),
    -- Where the call went when the queue gave up on it: 'queue:x', 'prompt', 'callback'.
    overflow   TEXT
) STRICT;

-- Queue reports scan by queue and time window.
CREATE INDEX call_queue_queue_entered_at ON call_queue (queue, entered_at);

-- Every offer of a queued call to a seat; `seq` is its place in the call's offers (0, 1…).
CREATE TABLE call_offers (
    call_id TEXT    NOT NULL REFERENCES call_queue (call_id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    seat    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    outcome TEXT    NOT NULL,
    PRIMARY KEY (call_id, seq)
) STRICT;

-- Seat reports (offers missed per seat) scan by seat and time window.
CREATE INDEX call_offers_seat_at ON call_offers (seat, at);

-- Seat state changes: logged_out, available, ringing, on_call, wrap_up, paused.
CREATE TABLE seat_events (
    -- The rowid: write order, which breaks ties between changes in the same millisecond.
    seq        INTEGER NOT NULL PRIMARY KEY,
    seat       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    reason     TEXT
) STRICT;

CREATE INDEX seat_events_at ON seat_events (at);
CREATE INDEX seat_events_seat_at ON seat_events (seat, at);

-- Callers who asked to be called back.
CREATE TABLE callbacks (
    id           TEXT    NOT NULL PRIMARY KEY,
    -- No foreign key: the request is written while the call is up, before its call record.
    call_id      TEXT    NOT NULL,
    number       TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    requested_at INTEGER NOT NULL
) STRICT;

CREATE INDEX callbacks_requested_at ON callbacks (requested_at);
CREATE INDEX callbacks_call_id ON callbacks (call_id);
