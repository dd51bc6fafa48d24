-- Shared by every script of both systems: the data files, a per-thread random seed, and the
-- count of responses that are not 2xx. Each wrk thread runs its own Lua state; setup() and
-- done() run in the main one. done() prints one line, "BENCH {json}", that run.py reads.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

DATA = os.getenv("BENCH_DATA")

function load_words(path)
  local rows = {}
  for line in io.lines(path) do
    if line ~= "" then
      local row = {}
      for word in line:gmatch("%S+") do table.insert(row, word) end
      table.insert(rows, row)
    end
  end
  return rows
end

function seed_rng() math.randomseed(os.time() * 1000 + (tid or 0) * 7919) end

-- Per thread: how many responses were not 2xx, and which statuses they had ("401 500").
non2xx = 0
statuses = ""
local seen = {}

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if not seen[status] then
      seen[status] = true
      statuses = statuses .. " " .. status
    end
  end
end

function done(summary, latency, requests)
  local bad, codes = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    codes = codes .. thread:get("statuses")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "statuses": "%s", ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, bad, codes, errors.connect, errors.read, errors.write,
    errors.timeout, latency:percentile(50), latency:percentile(99)))
end
