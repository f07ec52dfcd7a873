-- Notifications' own tables, built only from events. An event is claimed by its envelope
-- id in the transaction that applies it (seen_events), and each actor is in a group at
-- most once (group_actors' key), so redelivery and replay change nothing.
CREATE TABLE seen_events (
    event_id text PRIMARY KEY
);

-- Accounts as accounts announces them (the newest version), to name sample accounts.
CREATE TABLE accounts (
    account_id   bigint PRIMARY KEY,
    handle       text NOT NULL,
    display_name text NOT NULL,
    version      bigint NOT NULL
);

-- One notification as the recipient sees it: every actor of one kind (on one post, for
-- post kinds; post_id 0 for follows) within a span of at most 12 hours.
CREATE TABLE groups (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id bigint NOT NULL,
    kind         text NOT NULL,
    post_id      bigint NOT NULL,
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    actors       integer NOT NULL DEFAULT 0  -- actors with weight > 0, kept exact
);
CREATE INDEX groups_of_key ON groups (recipient_id, kind, post_id, first_at);
CREATE INDEX groups_newest_first ON groups (recipient_id, last_at DESC, id DESC) WHERE actors > 0;

-- An actor in a group: weight 1 for a like, vote or follow (0 once taken back), the number
-- of live comments for comments. Only actors with weight > 0 count.
CREATE TABLE group_actors (
    group_id bigint NOT NULL REFERENCES groups (id),
    actor_id bigint NOT NULL,
    weight   integer NOT NULL,
    at       timestamptz NOT NULL,
    source   text,
    PRIMARY KEY (group_id, actor_id)
);
CREATE INDEX group_actors_newest ON group_actors (group_id, at DESC) WHERE weight > 0;

-- The newest version of each follow pair applied, so an older change replayed (a re-emit
-- after a Redis wipe, a dead letter replayed late) cannot undo a newer one.
CREATE TABLE follow_versions (
    recipient_id bigint NOT NULL,
    actor_id     bigint NOT NULL,
    version      bigint NOT NULL,
    PRIMARY KEY (recipient_id, actor_id)
);

-- Which group counted a comment, so its deletion takes it out of that group.
CREATE TABLE comment_groups (
    comment_id bigint PRIMARY KEY,
    group_id   bigint NOT NULL,
    actor_id   bigint NOT NULL
);

-- How far each recipient has read: groups whose last_at is at or before it are read.
CREATE TABLE read_marks (
    recipient_id bigint PRIMARY KEY,
    up_to        timestamptz NOT NULL
);
