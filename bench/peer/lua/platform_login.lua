-- Platform: POST /api/v1/auth/login/ (Argon2id; a new session)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
local users = load_words(DATA .. "/users.txt")
function init(args) seed_rng() end
function request()
  local u = users[math.random(#users)]
  return wrk.format("POST", "/api/v1/auth/login/", platform_headers(nil, true),
    '{"email":"' .. u[3] .. '","password":"' .. u[4] .. '"}')
end
