-- Shared by the wrk scripts: a millisecond clock, a fixed-rate pacer, the bench
-- account's credentials and a JSON summary.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local M = {}

function M.now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- Per-thread pacing: request k of this thread is due at start + k * interval.
-- A connection that is free waits for the next slot; when every connection is
-- busy the rate falls (wrk is closed-loop), which the summary shows as a lower
-- achieved rate.
local interval = nil
local next_slot = nil

function M.init_pacer(threads)
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  if rate > 0 then interval = 1000.0 * threads / rate end
end

-- Every request is the bench user's: its API token (BENCH_TOKEN) goes in each
-- request's Authorization header, so the app looks the token up each time, as it
-- does for any API client. BENCH_AUTH_HEADER and BENCH_AUTH_VALUE send another
-- header instead (a session cookie, HTTP Basic: bench/auth_cost.py compares them).
-- Without either the app answers 401. ``headers`` is the table the script passes
-- to wrk.format (which then ignores wrk.headers), or wrk.headers itself for a
-- script that passes none.
function M.authorize(headers)
  local name = os.getenv("BENCH_AUTH_HEADER")
  local token = os.getenv("BENCH_TOKEN")
  if name and name ~= "" then
    headers[name] = os.getenv("BENCH_AUTH_VALUE")
  elseif token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  return headers
end

function M.delay()
  if not interval then return 0 end
  local now = M.now_ms()
  if not next_slot then next_slot = now end
  local slot = next_slot
  next_slot = next_slot + interval
  if slot < now then return 0 end
  return math.floor(slot - now)
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end

return M
