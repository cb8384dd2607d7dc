-- PATCH /Groups/BENCH_GROUP adding one member per request; member ids come
-- from the file BENCH_IDS (one per line), each thread walking its own slice.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
    ids[#ids + 1] = line
end
local group = os.getenv("BENCH_GROUP")
local k = 0
function request()
    k = k + 1
    local id = ids[((tid - 1) * math.floor(#ids / 8) + k) % #ids + 1]
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
        '"Operations":[{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}]}'
    return wrk.format("PATCH", c.base .. "/Groups/" .. group, c.headers, body)
end
