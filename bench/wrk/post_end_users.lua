-- wrk script: POST person queries with a bearer token, each from the next of 2,000 end users in turn, so that
-- the default per-end-user quotas (20 a minute) admit every query of a benchmark run. BENCH_TOKEN from the
-- environment.
local token = os.getenv("BENCH_TOKEN") or "bench-token"
local n = 0
request = function()
  n = n + 1
  local body = '{"hetu":"010280-952L","product":"PERUSSANOMA 1","end_user":"bench.user.' .. (n % 2000)
    .. '","purpose":"BENCH-2026-1"}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
