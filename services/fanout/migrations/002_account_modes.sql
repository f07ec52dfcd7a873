-- Each account's follower count (from follow.changed) and whether its posts are pushed
-- into followers' feeds or pulled from its timeline at read time (hybrid fan-out).
CREATE TABLE account_modes (
    account_id bigint PRIMARY KEY,
    followers  bigint NOT NULL DEFAULT 0 CHECK (followers >= 0),
    pull       boolean NOT NULL DEFAULT false
);
INSERT INTO account_modes (account_id, followers)
    SELECT account_id, count(*) FROM follows WHERE active GROUP BY account_id;
CREATE INDEX account_modes_pull ON account_modes (account_id) WHERE pull;
