-- The platform's side: users.txt is "<userId> <accessToken> <email> <password>", pairs.txt
-- "<user line> <recordId>", RECORDS_PATH the collection's records URL. Every request says it
-- came through a TLS-terminating proxy (X-Forwarded-Proto), as production settings expect.
dofile(os.getenv("LUA_DIR") .. "/common.lua")
RECORDS = os.getenv("RECORDS_PATH")

function platform_headers(token, json)
  local headers = {["X-Forwarded-Proto"] = "https"}
  if token then headers["Authorization"] = "Bearer " .. token end
  if json then headers["Content-Type"] = "application/json" end
  return headers
end
