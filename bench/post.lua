-- One donation per request, each with its own idempotency key (as a careful client sends).
-- Arguments after --: a bearer token (may be empty) and a donor id.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token = args[1] or ""
  donor = args[2] or "donor"
  run = args[3] or "run"
  body = '{"donor_id":"' .. donor .. '","amount":"88.00","received_on":"2026-11-20","channel":"wechat_pay"}'
end

request = function()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, counter),
  }
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/v1/donations", headers, body)
end
