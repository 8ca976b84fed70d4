-- percentiles.lua: wrk's done() hook printing a finer latency tail than --latency does,
-- as one line: "Percentiles(us): p50=... p90=... p95=... p98=... p99=... p99.9=... max=..."
done = function(summary, latency, requests)
  local parts = {}
  for _, p in ipairs({50, 90, 95, 98, 99, 99.9}) do
    parts[#parts + 1] = string.format("p%s=%d", p, latency:percentile(p))
  end
  io.write(string.format("Percentiles(us): %s max=%d\n", table.concat(parts, " "), latency.max))
end
