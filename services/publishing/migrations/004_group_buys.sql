-- Group buys (API.md "publishing"): the terms stay in the post's attachments; what
-- changes (how many joined, the outcome) is on the post, moved under its row lock, so a
-- count is exact and never passes max_participants. The due index serves the settler.
ALTER TABLE posts
    ADD COLUMN group_buy_participants integer CHECK (group_buy_participants >= 0),
    ADD COLUMN group_buy_state text CHECK (group_buy_state IN ('open', 'succeeded', 'failed')),
    ADD COLUMN group_buy_ends_at timestamptz;
CREATE INDEX posts_group_buys_due ON posts (group_buy_ends_at) WHERE group_buy_state = 'open';

CREATE TABLE group_buy_participants (
    post_id    bigint NOT NULL REFERENCES posts (id),
    user_id    bigint NOT NULL,
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
