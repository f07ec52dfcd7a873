-- Posts are the source of truth for what was published; authors is this service's
-- projection of accounts (built from account.changed events, never read from accounts).
CREATE TABLE authors (
    id        bigint PRIMARY KEY,
    kind      text NOT NULL,
    category  text,
    status    text NOT NULL,
    version   bigint NOT NULL
);

CREATE TABLE posts (
    id            bigint PRIMARY KEY,
    account_id    bigint NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL,
    category      text NOT NULL,
    attachments   jsonb NOT NULL,  -- images, products, discount, vote, video
    created_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    likes         integer NOT NULL DEFAULT 0,
    comments      integer NOT NULL DEFAULT 0,
    votes         integer NOT NULL DEFAULT 0,
    -- The 3-a-day rule, held by the database: the n-th post of an account's Shanghai day
    -- takes slot n, and no two posts share a slot (deleted posts keep theirs).
    shanghai_day  date NOT NULL,
    day_slot      smallint NOT NULL CHECK (day_slot >= 1),
    UNIQUE (account_id, shanghai_day, day_slot)
);
CREATE INDEX posts_of_account ON posts (account_id, id DESC);

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        text NOT NULL,
    envelope   bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
