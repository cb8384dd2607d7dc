-- GET /Users/{id} (ids from the file BENCH_IDS), each connection pausing
-- BENCH_PACE_MS between requests, so the offered load is about
-- connections × 1000 / (pace + latency) requests/s (the rate-limiter row
-- of scripts/bench paces 16 connections to about 4,000 requests/s).
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
    ids[#ids + 1] = line
end
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0")
local k = 0
function init(args)
    k = tid * 7919
end
function delay()
    return pace
end
function request()
    k = k + 1
    return wrk.format("GET", c.base .. "/Users/" .. ids[(k % #ids) + 1], c.headers)
end
