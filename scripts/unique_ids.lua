-- wrk script: POSTs the body in $BODY_FILE, each request with a new activity id, so the
-- exporter's deduplication records every one instead of answering "duplicate".
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  local body = f:read("*a")
  f:close()
  local s, e = body:find('"id": *"[^"]*"')
  prefix = body:sub(1, s - 1)
  suffix = body:sub(e + 1)
  run = os.getenv("RUN_ID") or tostring(os.time())
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  local id = '"id": "' .. run .. '-' .. tid .. '-' .. counter .. '"'
  return wrk.format("POST", nil, headers, prefix .. id .. suffix)
end
