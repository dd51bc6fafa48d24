-- Platform: list 20 of the caller's records (default order)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
local users = load_words(DATA .. "/users.txt")
function init(args) seed_rng() end
function request()
  return wrk.format("GET", RECORDS .. "?limit=20", platform_headers(users[math.random(#users)][2]))
end
