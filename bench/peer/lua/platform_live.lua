-- Platform: GET /health/live (the whole middleware stack, no database)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
function request() return wrk.format("GET", "/health/live", platform_headers()) end
