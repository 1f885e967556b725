-- The contact-failure ledger (联络畅通): every attempt to reach a unit's contact, every contact
-- failure with its evidence, and every void of a failure. Times are integer milliseconds since
-- the Unix epoch (UTC), as in 0001. Nothing in these tables is ever updated or deleted: a void
-- is a row of its own. As in 0001, stored enum strings have no CHECK: new values must not need a
-- table rebuild; the reader refuses strings it does not know.
-- (0008 is the hand-offs table, which the hand-off clock brings.)

CREATE TABLE contact_attempts (
    -- The rowid: write order.
    seq        INTEGER NOT NULL PRIMARY KEY,
    -- The hand-off the attempt belongs to; NULL when the seat reached for a unit without one.
    -- No foreign key: attempts are written while the hand-off is open.
    handoff_id TEXT,
    call_id    TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    -- 'handler', 'head' or 'duty'.
    role       TEXT    NOT NULL,
    -- The number or URI dialled.
    dialled    TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    rung_ms    INTEGER NOT NULL,
    -- 'answered', 'no_answer', 'busy', 'rejected', 'unreachable', 'stopped_by_seat'.
    outcome    TEXT    NOT NULL,
    sip_status INTEGER
) STRICT;

CREATE INDEX contact_attempts_handoff ON contact_attempts (handoff_id);
CREATE INDEX contact_attempts_started_at ON contact_attempts (started_at);

CREATE TABLE contact_failures (
    -- Given by the recorder, such as 'cf-<call id>-<n>'.
    id         TEXT    NOT NULL PRIMARY KEY,
    unit       TEXT    NOT NULL,
    -- 'unanswered' or 'refused'.
    kind       TEXT    NOT NULL,
    -- The moment the rule was met; the failure counts in the local month of this moment.
    at         INTEGER NOT NULL,
    handoff_id TEXT,
    call_id    TEXT    NOT NULL,
    seat       TEXT,
    -- JSON array of the attempts counted, in order: {"role", "dialled", "started_at" (ms),
    -- "rung_ms", "outcome", "sip_status"}.
    evidence   TEXT    NOT NULL,
    -- What the failure costs the unit, of its monthly contact points.
    points     INTEGER NOT NULL DEFAULT 10
) STRICT;

CREATE INDEX contact_failures_at ON contact_failures (at);

CREATE TABLE failure_voids (
    -- One void per failure at most.
    failure_id TEXT    NOT NULL PRIMARY KEY REFERENCES contact_failures (id),
    at         INTEGER NOT NULL,
    by_name    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    -- 1 when voided after the appeal window, on the operator's word.
    late       INTEGER NOT NULL CHECK (late IN (0, 1))
) STRICT;

-- Evidence is never rewritten: the database itself refuses to update or delete these rows.
CREATE TRIGGER contact_attempts_no_update BEFORE UPDATE ON contact_attempts
BEGIN SELECT RAISE(ABORT, 'contact attempts are never updated'); END;
CREATE TRIGGER contact_attempts_no_delete BEFORE DELETE ON contact_attempts
BEGIN SELECT RAISE(ABORT, 'contact attempts are never deleted'); END;
CREATE TRIGGER contact_failures_no_update BEFORE UPDATE ON contact_failures
BEGIN SELECT RAISE(ABORT, 'contact failures are never updated'); END;
CREATE TRIGGER contact_failures_no_delete BEFORE DELETE ON contact_failures
BEGIN SELECT RAISE(ABORT, 'contact failures are never deleted'); END;
CREATE TRIGGER failure_voids_no_update BEFORE UPDATE ON failure_voids
BEGIN SELECT RAISE(ABORT, 'failure voids are never updated'); END;
CREATE TRIGGER failure_voids_no_delete BEFORE DELETE ON failure_voids
BEGIN SELECT RAISE(ABORT, 'failure voids are never deleted'); END;
