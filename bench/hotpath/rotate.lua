-- wrk script for the hot-path memory test (bench/hotpath/hotpath.js):
-- every request carries the next of many session cookies, in turn, and the
-- run stops after a fixed number of requests.
--
-- Environment:
--   HOT_COOKIES   file with one Cookie header value per line (required)
--   HOT_REQUESTS  requests after which the thread stops (default 100000;
--                 meant for wrk -t1: each thread counts its own)
--
-- wrk -t1 -c32 -d600s -s bench/hotpath/rotate.lua http://127.0.0.1:2287/prot/index.html

local cookies = {}
local path = os.getenv("HOT_COOKIES")
assert(path, "HOT_COOKIES is not set")
for line in io.lines(path) do
  if #line > 0 then cookies[#cookies + 1] = line end
end
assert(#cookies > 0, path .. ": no cookies")

local limit = tonumber(os.getenv("HOT_REQUESTS") or "100000")
local sent = 0
local answered = 0
local bad = 0

request = function()
  sent = sent + 1
  local i = (sent - 1) % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookies[i] })
end

response = function(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  if answered >= limit then wrk.thread:stop() end
end

-- wrk counts non-2xx/3xx itself; this line tells the runner how many of
-- the distinct cookies were used and confirms the count
done = function(summary, latency, requests)
  io.write(string.format("rotate.lua: %d cookies, limit %d\n", #cookies, limit))
end
