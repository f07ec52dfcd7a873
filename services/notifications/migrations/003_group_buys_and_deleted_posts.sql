-- Each group buy's participants, from its joins and leaves (post.interaction), so its
-- outcome (group_buy.decided, which names none) notifies each of them.
CREATE TABLE buy_participants (
    post_id bigint NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- Deleted posts (post.deleted): groups about them are no longer shown, including those
-- an interaction still in flight makes after the deletion.
CREATE TABLE deleted_posts (
    post_id bigint PRIMARY KEY
);
