-- Accounts, invitations and follows: the source of truth for who follows whom.
CREATE TABLE accounts (
    id              bigint PRIMARY KEY,
    handle          text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('consumer', 'seller', 'influencer', 'media')),
    display_name    text NOT NULL,
    category        text,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    followers_count bigint NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count bigint NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    -- grows with every change carried by an account.changed event
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invitations (
    code        text PRIMARY KEY,
    max_uses    integer NOT NULL CHECK (max_uses > 0),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
    expires_at  timestamptz,
    kinds       text[] NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE follow_seq;

-- One row per (user, account) pair ever followed; `active` is the current state and
-- `version` counts its changes (carried by follow.changed so consumers drop stale ones).
CREATE TABLE follows (
    user_id     bigint NOT NULL REFERENCES accounts (id),
    account_id  bigint NOT NULL REFERENCES accounts (id),
    active      boolean NOT NULL,
    version     bigint NOT NULL,
    source      text NOT NULL,
    -- order of the latest follow, for "newest follow first" pages
    seq         bigint NOT NULL,
    followed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX follows_of_user ON follows (user_id, seq DESC) WHERE active;
CREATE INDEX followers_of_account ON follows (account_id, seq DESC) WHERE active;

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        text NOT NULL,
    envelope   bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
