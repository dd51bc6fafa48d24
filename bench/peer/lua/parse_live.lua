-- Parse: GET /live, express alone (the framework's floor; no Parse middleware)
dofile(os.getenv("LUA_DIR") .. "/common.lua")
function request() return wrk.format("GET", "/live") end
