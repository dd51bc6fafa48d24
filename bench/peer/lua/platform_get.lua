-- Platform: GET one of the caller's own records by id (owner-only collection)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
local users = load_words(DATA .. "/users.txt")
local pairs_ = load_words(DATA .. "/pairs.txt")
function init(args) seed_rng() end
function request()
  local p = pairs_[math.random(#pairs_)]
  return wrk.format("GET", RECORDS .. p[2] .. "/", platform_headers(users[tonumber(p[1])][2]))
end
