"""The Lua scripts of the feed keyspace: fanout's writes over many users (run through
shared.redis_cluster.eval_over_users, which groups users by cluster node) and feedread's
per-user scripts. Each script's writer is named beside it (keys.WRITERS)."""

from __future__ import annotations

from shared.feedstore import packed
from shared.feedstore.keys import FEED_OUTLIVES_SEEN_S, SEEN_PENDING, feed_key, lua_key, seen_key
from shared.vocabulary import CATEGORIES

# Scripts over users (shared.redis_cluster.PROLOGUE) build each user's keys with these.
# Feeds are packed lists (shared.feedstore.packed): ARGV carry packed entries.
_USER_KEYS = (
    packed.LUA
    + f"""
local function seen_key(u) return {lua_key(seen_key, "u")} end
local function feed_key(u) return {lua_key(feed_key, "u")} end
local function category_feed_key(u, c) return {lua_key(feed_key, "u", "c")} end
-- Adds a packed entry to a user's feed and to one of its category feeds, each kept to
-- the cap. A redelivered entry is already at its place: nothing changes.
local function add_to_feeds(feed, category_feed, entry, cap)
  packed_push(feed, entry, cap)
  packed_push(category_feed, entry, cap)
end
-- A feed key lives as long as the user's marker (PTTL `seen_ttl`) and a margin; with no
-- marker (a staff rebuild of an inactive user) only the margin; a marker that never
-- expires leaves the feed without expiry too.
local function expire_with(key, seen_ttl)
  if seen_ttl >= 0 then
    redis.call('PEXPIRE', key, seen_ttl + {FEED_OUTLIVES_SEEN_S * 1000})
  elseif seen_ttl == -2 then
    redis.call('PEXPIRE', key, {FEED_OUTLIVES_SEEN_S * 1000})
  end
end
"""
)

# fanout: one post into active users' feeds and category feeds, each trimmed to the cap.
# ARGV: packed entry, cap, category. Re-adding the same entry changes nothing, so
# redelivered events are harmless. (PTTL -2: no marker, inactive.)
PUSH = (
    _USER_KEYS
    + """
local entry, cap, category = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local delivered = 0
for u in each_user() do
  local seen_ttl = redis.call('PTTL', seen_key(u))
  if seen_ttl ~= -2 then
    local feed, category_feed = feed_key(u), category_feed_key(u, category)
    add_to_feeds(feed, category_feed, entry, cap)
    expire_with(feed, seen_ttl)
    expire_with(category_feed, seen_ttl)
    delivered = delivered + 1
  end
end
return delivered
"""
)

# fanout: many posts into users' feeds. ARGV: cap, only_active (1|0), then per post,
# newest first: packed entry, category.
ADD_MANY = (
    _USER_KEYS
    + """
local cap = tonumber(ARGV[1])
local all, by_category = {}, {}
for e = 3, #ARGV - 2, 2 do
  local category = ARGV[e + 1]
  all[#all + 1] = ARGV[e]
  by_category[category] = by_category[category] or {}
  table.insert(by_category[category], ARGV[e])
end
local touched = 0
for u in each_user() do
  local seen_ttl = redis.call('PTTL', seen_key(u))
  if ARGV[2] == '0' or seen_ttl ~= -2 then
    local feed = feed_key(u)
    packed_merge(feed, all, cap)
    expire_with(feed, seen_ttl)
    for category, entries in pairs(by_category) do
      local category_feed = category_feed_key(u, category)
      packed_merge(category_feed, entries, cap)
      expire_with(category_feed, seen_ttl)
    end
    touched = touched + 1
  end
end
return touched
"""
)

# fanout: posts out of users' feeds and category feeds. ARGV: how many categories, the
# categories, then the packed entries.
REMOVE = (
    _USER_KEYS
    + """
local n = tonumber(ARGV[1])
local categories = {unpack(ARGV, 2, n + 1)}
local entries = {unpack(ARGV, n + 2, #ARGV - 1)}
for u in each_user() do
  local keys = {feed_key(u)}
  for _, c in ipairs(categories) do keys[#keys + 1] = category_feed_key(u, c) end
  for _, key in ipairs(keys) do
    for _, entry in ipairs(entries) do packed_remove(key, entry) end
  end
end
return 0
"""
)

# feedread: keeps the highest version of a (user, account) follow: ARGV = account,
# version, sign.
APPLY_FOLLOW = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and math.abs(tonumber(current)) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], tonumber(ARGV[2]) * tonumber(ARGV[3]))
return 1
"""

# feedread: keeps the highest version of an account: ARGV = version, JSON.
APPLY_ACCOUNT = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
return 1
"""

# feedread: keeps the highest tally_version of a post. ARGV: version, JSON, TTL (s).
APPLY_TALLY = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# feedread, a read: marks the user active (pending a rebuild if they were not), keeps
# their feeds alive as long as they read (keys.GRANTS), and returns {previous marker,
# following hash, entries}. Expiries move only once the marker has aged by ARGV[3] s: both
# are set together, so the feeds still outlive the marker by their margin, and a busy
# reader does not rewrite a dozen expiries per page. The feed keys are built here from the
# user id (ARGV[4]; all in the user's slot): a page passes three keys, not twelve. With
# ARGV[5..6] (a top score, a count), the entries are KEYS[3]'s range (packed_read), read
# in the same call: a page of a materialized feed is one command.
# KEYS: seen, following, one of the user's feeds; ARGV: seen TTL, feed TTL, refresh
# interval (s), user id[, top, count].
TOUCH = (
    packed.LUA_READ
    + f"""
local u = ARGV[4]
local state = redis.call('GET', KEYS[1])
local refresh = true
if not state then
  redis.call('SET', KEYS[1], '{SEEN_PENDING.decode()}', 'EX', ARGV[1])
elseif redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) - tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
else
  refresh = false
end
if refresh then
  redis.call('EXPIRE', {lua_key(feed_key, "u")}, ARGV[2])
  for _, c in ipairs({{{", ".join(f"'{c}'" for c in CATEGORIES)}}}) do
    redis.call('EXPIRE', {lua_key(feed_key, "u", "c")}, ARGV[2])
  end
end
local entries = false
if ARGV[5] then entries = packed_read(KEYS[3], ARGV[5], tonumber(ARGV[6])) end
return {{state or false, redis.call('HGETALL', KEYS[2]), entries}}
"""
)
