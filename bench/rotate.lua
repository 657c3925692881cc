-- wrk script: every request carries another session cookie, rotating over
-- a cookie file (one value per line, e.g. from bench/lib.mjs seedRealSessions).
--   wrk -t2 -c16 -d10s -s bench/rotate.lua URL -- cookies.txt [cookie-name]
-- The cookie name defaults to `bff`. Each thread starts at another offset,
-- so threads do not walk the list in step. Non-2xx responses are counted
-- by wrk itself ("Non-2xx or 3xx responses"): no response() hook, which
-- would make wrk parse every response's headers.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  local path = args[1] or error("usage: -s rotate.lua URL -- COOKIE_FILE [COOKIE_NAME]")
  local name = args[2] or "bff"
  cookies = {}
  for line in io.lines(path) do
    if line ~= "" then cookies[#cookies + 1] = name .. "=" .. line end
  end
  if #cookies == 0 then error("no cookies in " .. path) end
  -- Golden-ratio offsets: thread 1 at 0, thread 2 at 0.618 n, ...
  index = math.floor(((tid - 1) * 0.6180339887 % 1) * #cookies)
end

function request()
  index = index % #cookies + 1
  wrk.headers["Cookie"] = cookies[index]
  return wrk.format()
end
