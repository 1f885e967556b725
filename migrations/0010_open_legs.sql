-- Unit contacts' legs in progress, as calls_open is for calls (a call's row there also tells
-- its caller's leg and its seat's): a leg is written here when it is rung and when it is
-- answered, and moved to call_legs when it ends (its call_legs row is written and this one
-- deleted in one transaction). After a crash, the next start moves every row left here to
-- call_legs, ended at the last sign of life, ended_how 'interrupted'. Times are integer
-- milliseconds since the Unix epoch (UTC), as in 0001.
CREATE TABLE call_legs_open (
    id          TEXT    NOT NULL PRIMARY KEY,
    call_id     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    party       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    answered_at INTEGER
) STRICT;

CREATE INDEX call_legs_open_call_id ON call_legs_open (call_id);
