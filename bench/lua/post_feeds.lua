-- POST a distinct feed URL per request: {"url": "<BENCH_FEED_BASE><n>.xml"}.
-- With BENCH_FEED_HOSTS=N (and BENCH_FEED_PORT) the feeds are spread over N loopback
-- hosts instead, as the feed server's --hosts serves them (127.1.x.y, bench/feedserver.py).
-- With BENCH_CONNECTION_CLOSE=1 each request asks for its connection to be closed, so
-- wrk opens a new TCP connection for the next one, as a router does for each request.
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
  if os.getenv("BENCH_CONNECTION_CLOSE") == "1" then headers["Connection"] = "close" end
  base = os.getenv("BENCH_FEED_BASE")
  path = os.getenv("BENCH_PATH") or "/feeds"
  offset = tonumber(os.getenv("BENCH_FEED_OFFSET") or "0")
  hosts = tonumber(os.getenv("BENCH_FEED_HOSTS") or "0")
  port = os.getenv("BENCH_FEED_PORT")
  counter = 0
end

function request()
  counter = counter + 1
  local n = offset + thread_index * 10000000 + counter
  local feed_base = base
  if hosts > 0 then
    local number = n % hosts + 1
    feed_base = "http://127.1." .. math.floor(number / 256) .. "." .. number % 256 .. ":" .. port .. "/feed/"
  end
  local body = '{"url": "' .. feed_base .. n .. '.xml"}'
  return wrk.format("POST", path, headers, body)
end

delay = common.delay
done = common.done
