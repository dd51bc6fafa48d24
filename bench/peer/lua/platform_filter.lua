-- Platform: list 20 of the caller's records with n >= random (n is a declared index)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
local users = load_words(DATA .. "/users.txt")
function init(args) seed_rng() end
function request()
  local path = RECORDS .. "?filter=n:gte:" .. math.random(0, 999) .. "&limit=20"
  return wrk.format("GET", path, platform_headers(users[math.random(#users)][2]))
end
