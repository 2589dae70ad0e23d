-- GET paths read from the file BENCH_PATHS_FILE, one a line, in turn.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  common.init_pacer(tonumber(os.getenv("BENCH_THREADS") or "1"))
  common.authorize(wrk.headers)
  paths = {}
  for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do paths[#paths + 1] = line end
  i = thread_index
end

function request()
  i = (i % #paths) + 1
  return wrk.format("GET", paths[i])
end

delay = common.delay
done = common.done
