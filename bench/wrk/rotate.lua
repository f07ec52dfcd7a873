-- Rotates requests over a targets file written by bench/read.py: one "path<TAB>token"
-- a line (a reader's page and the reader's own token). Each thread starts at its own
-- offset so the threads do not read the same reader at the same moment.
-- Usage: wrk -s bench/wrk/rotate.lua http://127.0.0.1:PORT -- TARGETS_FILE

local targets = {}
local index = 0
local thread_count = 0

function setup(thread)
  thread:set("offset", thread_count * 7919)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("^(%S+)\t(%S+)$")
    targets[#targets + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  end
  index = offset or 0
end

function request()
  index = index + 1
  return targets[index % #targets + 1]
end
