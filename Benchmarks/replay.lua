-- wrk script: POSTs the JSON bodies of a file (one per line) in turn, each with the API key.
--   wrk -s Benchmarks/replay.lua URL -- BODIES_FILE API_KEY [DELAY_MS]
-- wrk keeps one Lua state per thread: the connections of a thread share one counter, which
-- starts at a random line, so with -t1 each line is sent once before any is sent again.
-- Each request is formatted once, when the thread starts: formatting it per request cost wrk
-- about 10 µs of its 30 µs a request, taken from the server in the two-core runs (wrk shares
-- those cores).
-- DELAY_MS > 0 paces each connection (wrk's delay hook) to hold a rate below the peak. wrk
-- waits whole milliseconds, so a fractional delay is the floor or the ceiling, drawn with the
-- odds that make the mean right (at 16 connections 2 ms and 3 ms are 25 % apart in rate).
local requests = {}
local pause = 0
local counter = 0

function init(args)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
  for line in io.lines(args[1]) do
    if #line > 0 then requests[#requests + 1] = wrk.format("POST", nil, headers, line) end
  end
  pause = tonumber(args[3] or "0")
  counter = math.random(#requests)
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function delay()
  local whole = math.floor(pause)
  if math.random() < pause - whole then return whole + 1 end
  return whole
end
