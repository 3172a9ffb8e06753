-- wrk script: GET the request paths listed one per line in a file, cycling through them.
--
--   wrk -t 2 -c 8 -d 20s --latency -s bench/wrk/paths.lua http://127.0.0.1:8000 -- paths.txt
--
-- Each wrk thread has its own Lua state; every thread starts at a different place in the list so
-- that the threads do not send the same request at the same moment.

local paths = {}
local counter = 0
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  local name = args[1]
  assert(name, "give the paths file after --")
  local file = assert(io.open(name, "r"))
  for line in file:lines() do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. name)
  counter = ((thread_index or 0) * 7919) % #paths
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
