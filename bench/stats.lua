-- bench/stats.lua — what the benchmark scripts compute of repeated timings (run from the checkout's root:
-- `local stats = require "bench.stats"`).
local stats = {}

-- The median of a list of numbers (the list is left as it was).
function stats.median(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

return stats
