-- Fan-out's own projection of who follows whom (from follow.changed events) and of
-- deleted posts (so a replayed post.published never resurrects a deleted post).
CREATE TABLE follows (
    account_id bigint NOT NULL,
    user_id    bigint NOT NULL,
    active     boolean NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX follows_of_user ON follows (user_id) WHERE active;

CREATE TABLE deleted_posts (
    post_id    bigint PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suspended_accounts (
    account_id bigint PRIMARY KEY,
    version    bigint NOT NULL,
    suspended  boolean NOT NULL
);
