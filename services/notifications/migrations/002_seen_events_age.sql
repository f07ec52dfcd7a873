-- When each event id was claimed, so ids older than anything Kafka can still deliver
-- (its retention) can be forgotten.
ALTER TABLE seen_events ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX seen_events_by_age ON seen_events (seen_at);
