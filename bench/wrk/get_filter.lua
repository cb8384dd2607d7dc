-- GET /Users?filter=userName eq "user<i>@<BENCH_DOMAIN>", i uniform in
-- 1..BENCH_USERS (BENCH_DOMAIN: example.com unless set).
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local users = tonumber(os.getenv("BENCH_USERS") or "1000")
local domain = os.getenv("BENCH_DOMAIN") or "example.com"
function init(args)
    math.randomseed(7919 * tid)
end
function request()
    local i = math.random(1, users)
    local path = c.base .. "/Users?filter=userName%20eq%20%22user" .. i .. "%40" .. domain .. "%22"
    return wrk.format("GET", path, c.headers)
end
