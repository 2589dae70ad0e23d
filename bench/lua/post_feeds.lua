-- POST a distinct feed URL per request: {"url": "<BENCH_FEED_BASE><n>.xml"}.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  common.init_pacer(tonumber(os.getenv("BENCH_THREADS") or "1"))
  headers = common.authorize({["Content-Type"] = "application/json"})
  base = os.getenv("BENCH_FEED_BASE")
  path = os.getenv("BENCH_PATH") or "/feeds"
  offset = tonumber(os.getenv("BENCH_FEED_OFFSET") or "0")
  counter = 0
end

function request()
  counter = counter + 1
  local n = offset + thread_index * 10000000 + counter
  local body = '{"url": "' .. base .. n .. '.xml"}'
  return wrk.format("POST", path, headers, body)
end

delay = common.delay
done = common.done
