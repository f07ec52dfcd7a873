-- Who is in each group buy now (post.interaction group_buy_join / group_buy_leave): when
-- the buy is decided `succeeded`, each of them is one purchase of its price.
CREATE TABLE group_buy_participants (
    post_id bigint NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
