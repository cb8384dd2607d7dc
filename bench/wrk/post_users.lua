-- POST /Users with a unique userName per request (prefix per run, per thread).
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common") -- also numbers the threads (`tid`)
local n = 0
local prefix = os.getenv("BENCH_PREFIX") or "w"
function request()
    n = n + 1
    local un = string.format("%s-t%d-%d@wrk.example.com", prefix, tid, n)
    local body = string.format(
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s",' ..
        '"displayName":"Wrk User %d","active":true,"name":{"givenName":"Wrk","familyName":"User%d"},' ..
        '"emails":[{"value":"%s","type":"work","primary":true}]}', un, n, n, un)
    return wrk.format("POST", c.base .. "/Users", c.headers, body)
end
