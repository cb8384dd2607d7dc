-- PATCH /Users/{id} (ids from the file BENCH_IDS): replace displayName.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
    ids[#ids + 1] = line
end
local k = 0
function init(args)
    k = tid * 104729
end
function request()
    k = k + 1
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
        '"Operations":[{"op":"replace","path":"displayName","value":"Patched ' .. k .. '"}]}'
    return wrk.format("PATCH", c.base .. "/Users/" .. ids[(k % #ids) + 1], c.headers, body)
end
