-- One row per inbound call, written when the call ends.
-- Times are integer milliseconds since the Unix epoch (UTC); reports convert to local time.
CREATE TABLE calls (
    id          TEXT    NOT NULL PRIMARY KEY,
    sip_call_id TEXT    NOT NULL,
    trunk       TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    called      TEXT    NOT NULL,
    seat        TEXT,
    offered_at  INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at    INTEGER NOT NULL,
    -- No CHECK on the value: new dispositions must not need a table rebuild;
    -- the reader refuses strings it does not know.
    disposition TEXT    NOT NULL,
    sip_cause   INTEGER,
    ended_by    TEXT
) STRICT;

-- Reports and metrics scan by time window.
CREATE INDEX calls_offered_at ON calls (offered_at);
-- The API looks calls up by the trunk leg's Call-ID.
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
