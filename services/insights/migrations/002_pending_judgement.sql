-- Accounts with follows not yet judged for fake followers, and the span of those follows:
-- the consumer notes them, a background judge works through them off the ingest path.
CREATE TABLE pending_judgement (
    account_id bigint PRIMARY KEY,
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL
);
