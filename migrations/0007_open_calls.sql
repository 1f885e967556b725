-- Calls in progress, so that no call is without a row: a call is written here when the daemon
-- takes it, updated when it is answered, and moved to `calls` when it ends (in one transaction).
-- After a crash, the next start moves every row left here to `calls` as 'interrupted', ended at
-- the last sign of life. Times are integer milliseconds since the Unix epoch (UTC), as in 0001.
CREATE TABLE calls_open (
    id          TEXT    NOT NULL PRIMARY KEY,
    sip_call_id TEXT    NOT NULL,
    trunk       TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    called      TEXT    NOT NULL,
    seat        TEXT,
    offered_at  INTEGER NOT NULL,
    answered_at INTEGER
) STRICT;

-- The daemon's last sign of life: one row, rewritten every few seconds while it runs.
CREATE TABLE daemon_alive (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
) STRICT;
