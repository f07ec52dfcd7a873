-- An account switched back to push whose final timeline copy is not known to be done:
-- a redelivered follow event of the account finds it here and copies again (a crash
-- between the mode's update and that copy would otherwise lose the posts published
-- while the switch ran).
ALTER TABLE account_modes ADD COLUMN copy_pending boolean NOT NULL DEFAULT false;
