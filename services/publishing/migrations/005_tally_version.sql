-- post.tallied's version: bumped with every change of a post's tallies (a vote cast or
-- moved, a group-buy join or leave, its outcome) in the change's transaction, under the
-- post's row lock, so readers that keep the highest version never roll a tally back.
ALTER TABLE posts ADD COLUMN tally_version bigint NOT NULL DEFAULT 0;
