-- A user's rows across accounts (re-ranking what a newly flagged follower engaged with)
-- and an account's rows of one user (revisits: the same user on earlier days).
CREATE INDEX user_day_by_user ON user_day (user_id, day);
CREATE INDEX user_day_by_account_user ON user_day (account_id, user_id, day);
