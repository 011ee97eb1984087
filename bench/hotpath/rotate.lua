-- wrk script for the memory part of bench/hotpath/hotpath.js: every
-- request carries the next of many session cookies, in turn, and the
-- thread stops once it has had HOT_REQUESTS answers.
--
-- Environment:
--   HOT_COOKIES    file with one Cookie header value per line (required)
--   HOT_REQUESTS   answers after which the thread stops (default 100000;
--                  each thread counts its own: meant for wrk -t1)
--   HOT_DONE_FILE  written when the thread stops; wrk itself sleeps for
--                  its whole -d, so the runner then sends it SIGINT, on
--                  which wrk prints its report and exits
--
--   HOT_COOKIES=cookies.txt HOT_DONE_FILE=/tmp/done \
--   wrk -t1 -c32 -d600s -s bench/hotpath/rotate.lua http://127.0.0.1:2287/prot/

local cookies = {}
local path = os.getenv("HOT_COOKIES")
assert(path, "HOT_COOKIES is not set")
for line in io.lines(path) do
  if #line > 0 then cookies[#cookies + 1] = line end
end
assert(#cookies > 0, path .. ": no cookies")

local limit = tonumber(os.getenv("HOT_REQUESTS") or "100000")
local done_file = os.getenv("HOT_DONE_FILE")
local sent = 0
local answered = 0
local stopped = false

request = function()
  sent = sent + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookies[(sent - 1) % #cookies + 1] })
end

response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit and not stopped then
    stopped = true
    wrk.thread:stop()
    if done_file then
      local f = io.open(done_file, "w")
      if f then
        f:write(answered, "\n")
        f:close()
      end
    end
  end
end

done = function(summary, latency, requests)
  io.write(string.format("rotate.lua: %d distinct cookies, limit %d answers per thread\n", #cookies, limit))
end
