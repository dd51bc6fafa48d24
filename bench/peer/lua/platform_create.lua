-- Platform: create one record {title, n} as a random user (owner-only: the caller owns it)
dofile(os.getenv("LUA_DIR") .. "/platform_common.lua")
local users = load_words(DATA .. "/users.txt")
local n = 0
function init(args) seed_rng() end
function request()
  local u = users[math.random(#users)]
  n = n + 1
  local body = '{"data":{"title":"bench ' .. tid .. '-' .. n .. '","n":' .. (n % 1000) .. '}}'
  return wrk.format("POST", RECORDS, platform_headers(u[2], true), body)
end
