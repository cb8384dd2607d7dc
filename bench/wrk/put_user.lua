-- PUT /Users/{id} (ids from the file BENCH_IDS): the whole user replaced,
-- a userName of its own per id (so replacements never collide).
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
    ids[#ids + 1] = line
end
local k = 0
function init(args)
    k = tid * 7919
end
function request()
    k = k + 1
    local id = ids[(k % #ids) + 1]
    local body = string.format(
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"put-%s@wrk.example.com",' ..
        '"displayName":"Put %d","active":true,"externalId":"put-%s",' ..
        '"emails":[{"value":"put-%s@wrk.example.com","type":"work","primary":true}]}', id, k, id, id)
    return wrk.format("PUT", c.base .. "/Users/" .. id, c.headers, body)
end
