-- post_feeds.lua with a new TCP connection per request, as a router opens them:
-- each request says "Connection: close", so the server closes after answering and
-- wrk connects again for the next one. Same environment variables as post_feeds.lua.
dofile(os.getenv("BENCH_LUA_DIR") .. "/post_feeds.lua")

local format = wrk.format
function wrk.format(method, path, headers, body)
  headers = headers or {}
  headers["Connection"] = "close"
  return format(method, path, headers, body)
end
