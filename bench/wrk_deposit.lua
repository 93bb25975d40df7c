-- wrk script for bench/peers_http.py: authenticated deposits, one account per wrk thread.
--
-- Run with as many threads as connections (wrk -t N -c N), so that each connection deposits
-- into its own account and no two requests race on one event stream. The accounts come from
-- the file named by HEXBANK_WRK_ACCOUNTS, one "<access token> <account id>" per line.
-- `done` prints one line "WRK_RESULT {json}" that the benchmark parses.

local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
end

function init(args)
  local accounts = {}
  for line in io.lines(os.getenv("HEXBANK_WRK_ACCOUNTS")) do
    local token, account = line:match("^(%S+)%s+(%S+)$")
    if token then
      accounts[#accounts + 1] = { token = token, account = account }
    end
  end
  local mine = accounts[(index % #accounts) + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. mine.token,
  }
  -- Built once: every request of this thread is the same deposit of 1.00.
  deposit = wrk.format("POST", "/api/v1/accounts/" .. mine.account .. "/deposits", headers,
    '{"amount": 100}')
end

function request()
  return deposit
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(99)))
end
