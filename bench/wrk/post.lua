-- wrk script: POST one person query with a bearer token (BENCH_TOKEN, BENCH_BODY from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
wrk.body = os.getenv("BENCH_BODY")
  or '{"hetu":"010280-952L","product":"PERUSSANOMA 1","end_user":"bench.user","purpose":"BENCH-2026-1"}'
