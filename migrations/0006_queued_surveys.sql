-- The surveys still to be called are read at every start-up to take the queue back: an index by
-- status keeps that read to the queued rows however many finished surveys the years pile up,
-- already in the order the queue is rebuilt in.
CREATE INDEX surveys_status ON surveys (status, requested_at, id);
