-- Insights' own tables, built only from events. Every write is keyed so that applying an
-- event twice changes nothing: events are claimed by event_id in the transaction that
-- applies them (seen_events), and purchases once per order_id (orders).
CREATE TABLE seen_events (
    event_id text PRIMARY KEY
);

CREATE TABLE orders (
    order_id text PRIMARY KEY
);

CREATE TABLE accounts (
    account_id   bigint PRIMARY KEY,
    handle       text NOT NULL,
    display_name text NOT NULL,
    kind         text NOT NULL,
    category   text,
    status     text NOT NULL,
    created_at timestamptz NOT NULL,
    version    bigint NOT NULL
);

CREATE TABLE posts (
    post_id    bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    day        date NOT NULL,
    deleted    boolean NOT NULL DEFAULT false
);
CREATE INDEX posts_by_account_day ON posts (account_id, day);

-- Every follow change once (gained/lost per day are counts of these).
CREATE TABLE follow_log (
    account_id bigint NOT NULL,
    user_id    bigint NOT NULL,
    version    bigint NOT NULL,
    following  boolean NOT NULL,
    source     text NOT NULL,
    at         timestamptz NOT NULL,
    day        date NOT NULL,
    PRIMARY KEY (account_id, user_id, version)
);
CREATE INDEX follow_log_by_account_day ON follow_log (account_id, day);
CREATE INDEX follow_log_by_account_at ON follow_log (account_id, at) WHERE following;
CREATE INDEX follow_log_by_user ON follow_log (user_id, at) WHERE following;

-- Who follows whom now (the newest version of each pair).
CREATE TABLE follows (
    user_id    bigint NOT NULL,
    account_id bigint NOT NULL,
    following  boolean NOT NULL,
    version    bigint NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX follows_of_account ON follows (account_id) WHERE following;

-- One row per (account, Shanghai day, user): counters of that user's events. Distinct
-- users (reach, visitors, buyers) are counts of rows, so every number is exact.
CREATE TABLE user_day (
    account_id    bigint NOT NULL,
    day           date NOT NULL,
    user_id       bigint NOT NULL,
    impressions   integer NOT NULL DEFAULT 0,
    views         integer NOT NULL DEFAULT 0,
    dwell_ms      bigint NOT NULL DEFAULT 0,
    dwell_reports integer NOT NULL DEFAULT 0,
    clicks        integer NOT NULL DEFAULT 0,
    favorites     integer NOT NULL DEFAULT 0,
    purchases     integer NOT NULL DEFAULT 0,
    gmv_cents     bigint NOT NULL DEFAULT 0,
    shares        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, user_id)
);

CREATE TABLE post_user (
    post_id     bigint NOT NULL,
    user_id     bigint NOT NULL,
    impressions integer NOT NULL DEFAULT 0,
    views       integer NOT NULL DEFAULT 0,
    clicks      integer NOT NULL DEFAULT 0,
    purchases   integer NOT NULL DEFAULT 0,
    gmv_cents   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE post_likes (
    post_id bigint NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE TABLE post_comments (
    post_id    bigint NOT NULL,
    comment_id text NOT NULL,
    PRIMARY KEY (post_id, comment_id)
);
CREATE TABLE post_votes (
    post_id bigint NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- When a user was first seen doing anything (fake-follower evidence: activity before a follow).
CREATE TABLE user_activity (
    user_id  bigint PRIMARY KEY,
    first_at timestamptz NOT NULL
);

-- Favourites, purchases and follows per (user, account), newest time: Swing's input.
CREATE TABLE interactions (
    user_id    bigint NOT NULL,
    account_id bigint NOT NULL,
    kind       text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, account_id, kind)
);
CREATE INDEX interactions_by_at ON interactions (at);

-- Followers flagged by the lockstep / dormant-burst rules, with the evidence.
CREATE TABLE suspicious (
    account_id  bigint NOT NULL,
    user_id     bigint NOT NULL,
    followed_at timestamptz NOT NULL,
    day         date NOT NULL,
    evidence    jsonb NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX suspicious_by_user ON suspicious (user_id);
CREATE INDEX suspicious_by_account_day ON suspicious (account_id, day);

-- Accounts whose official-recommendation components changed since the last refresh.
CREATE TABLE dirty_accounts (
    account_id bigint PRIMARY KEY
);

-- Each candidate's official-recommendation components over the window, as last computed.
CREATE TABLE official_components (
    account_id bigint PRIMARY KEY,
    category   text NOT NULL,
    components jsonb NOT NULL
);
CREATE INDEX official_components_by_category ON official_components (category);
