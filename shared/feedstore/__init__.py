"""The feed keyspace in Redis, owned here: its keys (keys, with who writes each), its Lua
scripts (scripts), fanout's writer API (writer.FeedWriter) and feedread's reader API
(reader.FeedReader). Services reach it only through these, behind their ports."""
