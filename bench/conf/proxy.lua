-- wrk sends absolute-form requests, so the URL given to wrk is the proxy and these name the
-- origin: "GET http://origin:port/path HTTP/1.1" with a Host header for the origin.
local origin = os.getenv("BENCH_ORIGIN")
wrk.path = "http://" .. origin .. os.getenv("BENCH_PATH")
wrk.headers["Host"] = origin
