-- wrk script of bench/soak.sh: rotates through the requests of the table
-- in $SOAK_REQUESTS (written by bench/soak-requests.js), stops each
-- thread after its share of $SOAK_TOTAL responses, and prints the
-- statuses, which must all be among those the table expects.

local reqs = dofile(os.getenv("SOAK_REQUESTS"))
local total = tonumber(os.getenv("SOAK_TOTAL") or "10000")

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local formatted = {}
local i = 0
local seen = 0
local quota = 0
statuses = {}

function init(args)
  for _, r in ipairs(reqs) do
    table.insert(formatted, wrk.format(r.method, r.path, r.headers))
  end
  -- the share of this thread; the first one takes the remainder
  local n = tonumber(os.getenv("SOAK_THREADS") or "1")
  quota = math.floor(total / n)
  if wrk.thread:get("id") == 0 then
    quota = quota + total % n
  end
  -- threads start at different places of the rotation
  i = (wrk.thread:get("id") * 7) % #formatted
end

function request()
  i = i % #formatted + 1
  return formatted[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  seen = seen + 1
  if seen == quota then
    -- wrk's main thread sleeps for the whole -d: soak.sh waits for these
    -- files, then interrupts it
    local f = io.open(os.getenv("SOAK_DONE") .. "." .. wrk.thread:get("id"), "w")
    f:write(seen .. "\n")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local allowed = {}
  for _, r in ipairs(reqs) do
    for _, s in ipairs(r.expect) do allowed[s] = true end
  end

  local all, bad = {}, 0
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    for s, n in pairs(st) do
      all[s] = (all[s] or 0) + n
      if not allowed[s] then bad = bad + n end
    end
  end

  local keys = {}
  for s in pairs(all) do table.insert(keys, s) end
  table.sort(keys)
  local line = {}
  for _, s in ipairs(keys) do table.insert(line, s .. "=" .. all[s]) end

  io.write(string.format("SOAK responses %d errors %d statuses %s unexpected %d\n",
    summary.requests, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    table.concat(line, " "), bad))
end
