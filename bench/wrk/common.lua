-- Shared by the wrk scripts of scripts/bench. Environment:
--   BENCH_BASE   base path of the SCIM API on the target ("/scim/v2" or "/v2")
--   BENCH_TOKEN  bearer token
local M = {}
M.base = os.getenv("BENCH_BASE") or "/scim/v2"
M.headers = {
    ["Content-Type"] = "application/scim+json",
    ["Accept"] = "application/scim+json",
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
}
-- wrk calls setup() once per thread, in the main state: number the threads
-- 1..n so each can seed or slice its own work (`tid` in its own state).
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end
return M
