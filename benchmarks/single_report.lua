-- wrk script for benchmarks/intake.py: POST /v1/overdue-loans, a new loan and borrower each time.
-- wrk -t2 -c64 -d10s -s single_report.lua http://127.0.0.1:PORT -- <api key> <tag> [get]
-- With "get": the raw limit instead, GET /v1/loans/<unknown> (authenticated, answered 404).

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local counter = 0
local tag = "x"
local get = false
local body_format = '{"loan_id":"S-%s-%d-%d","borrower":{"id":"B-%s-%d-%d","name":"Bench'
  .. ' Borrower","phone":"+86138%08d","email":"s%d-%d@example.com","locale":"zh-CN",'
  .. '"timezone":"Asia/Shanghai"},"jurisdiction":"CN","product":"consumer-credit",'
  .. '"amount_overdue":{"amount":"1250.00","currency":"CNY"},"due_date":"2026-11-01",'
  .. '"days_past_due":27,"as_of":"2026-11-28T09:%02d:%02d+08:00"}'

function init(args)
  tag = args[2]
  get = args[3] == "get"
  wrk.method = get and "GET" or "POST"
  wrk.path = get and "/v1/loans/RAW-LIMIT-UNKNOWN" or "/v1/overdue-loans"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if get then
    return wrk.format(nil, nil, nil, nil)
  end
  counter = counter + 1
  local minute = math.floor(counter / 60) % 60
  local body = string.format(
    body_format, tag, thread_id, counter, tag, thread_id, counter,
    (thread_id * 10000000 + counter) % 100000000, thread_id, counter, minute, counter % 60
  )
  return wrk.format(nil, nil, nil, body)
end

-- One JSON line for the Python side (latency in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,'
      .. '"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)
  ))
end
