-- Call recordings: the WAV files the daemon writes per call (the citizen's call, and each
-- consultation of it), and the pauses in them. One row per file, rewritten as it changes
-- (opened, closed), so that a file being written is on disk as a row from the moment it opens;
-- retention marks a row deleted once it has removed the file, and keeps the row. Times are
-- integer milliseconds since the Unix epoch (UTC), as in 0001.
CREATE TABLE recordings (
    -- The daemon's call id, or '<call id>-consult-<n>' for a consultation.
    id          TEXT    NOT NULL PRIMARY KEY,
    -- No foreign key to calls: a recording is written while its call is up.
    call_id     TEXT    NOT NULL,
    -- The file, as the daemon wrote it.
    path        TEXT    NOT NULL,
    -- The time of the file's first sample.
    started_at  INTEGER NOT NULL,
    -- NULL while the file is still being written.
    ended_at    INTEGER,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
    -- Of the whole file, lowercase hex; NULL while the file is still being written.
    sha256      TEXT,
    -- 1 when the file holds the whole call.
    complete    INTEGER NOT NULL CHECK (complete IN (0, 1)),
    -- Why it is not complete, in the recorder's words.
    reason      TEXT,
    -- When retention deleted the file.
    deleted_at  INTEGER
) STRICT;

CREATE INDEX recordings_call_id ON recordings (call_id);
-- Serves both the files still being written (ended_at IS NULL, which sorts first) and
-- retention's files ended before a time and not yet deleted, read from the index alone.
CREATE INDEX recordings_ended_at ON recordings (ended_at, deleted_at);

-- The pauses of a recording: silence in the file from from_at to to_at. Written with their
-- recording, and replaced whole when it is rewritten.
CREATE TABLE recording_gaps (
    recording_id TEXT    NOT NULL REFERENCES recordings (id),
    from_at      INTEGER NOT NULL,
    to_at        INTEGER NOT NULL,
    PRIMARY KEY (recording_id, from_at)
) STRICT;
