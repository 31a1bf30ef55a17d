-- Entropy-based anomaly flags: an interval is flagged when a column (by default the source- and destination-
-- address entropies) lies more than THRESHOLD standard deviations from its mean over the WINDOW intervals before
-- it (a z-score over a sliding window).  Scans and floods concentrate or scatter addresses, and show up this way.
--
--   tpp scripts/examples/entropy_anomalies.lua TRACE [--window N] [--threshold Z] [--delta-t S] [--column NAME]...
--
-- TRACE is a capture (parsed with --delta-t, default 10 s) or a dump.  Prints one line per flag: the interval,
-- its start (UTC), the column, its value, the window's mean and the z-score, and the interval's busiest TCP
-- destination ports.  Exits 0 whether or not anything was flagged.
local tpp = require "tpp"

local USAGE = "usage: entropy_anomalies.lua TRACE [--window N] [--threshold Z] [--delta-t S] [--column NAME]..."

local function fail(msg)
  io.stderr:write("entropy_anomalies: ", msg, "\n")
  os.exit(2)
end

local path, window, threshold, delta_t, names = nil, 6, 3, nil, {}
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    return arg[i] or fail(a .. " needs a value\n" .. USAGE)
  end
  if a == "--window" then window = math.tointeger(tonumber(value()))
  elseif a == "--threshold" then threshold = tonumber(value())
  elseif a == "--delta-t" then delta_t = tonumber(value())
  elseif a == "--column" then names[#names + 1] = value()
  elseif a == "-h" or a == "--help" then print(USAGE); os.exit(0)
  elseif a:sub(1, 1) == "-" or path then fail("unexpected argument '" .. a .. "'\n" .. USAGE)
  else path = a end
  i = i + 1
end
if not path then fail(USAGE) end
if not window or window < 2 then fail("--window must be an integer of at least 2") end
if not threshold or threshold <= 0 then fail("--threshold must be a positive number") end
if #names == 0 then names = { "entropy_src", "entropy_dst" } end

local kind = require("tpp.result").kind(path)
local r, err = tpp.open(path, kind ~= "dump" and { delta_t = delta_t or 10 } or nil)
if not r then fail(err) end

-- Mean and population standard deviation of the non-NaN values of col[first..last].
local function window_stats(col, first, last)
  local w = tpp.column(table.move(col, first, last, 1, {}))
  return w:mean(), w:std()
end

print(("# %s: %d intervals of %g s; z-score over the %d intervals before, flagged when |z| >= %g")
      :format(r.source, #r, r.delta_t, window, threshold))
print("interval\tstart (UTC)\tcolumn\tvalue\tmean\tz\ttop tcp_dst ports")
local starts, flags = r:column("start"), 0
for _, name in ipairs(names) do
  local ok, col = pcall(r.column, r, name)
  if not ok then fail(col) end
  for k = window + 1, #col do
    local v = col[k]
    local mean, std = window_stats(col, k - window, k - 1)
    if v == v and mean and std and std > 0 then
      local z = (v - mean) / std
      if math.abs(z) >= threshold then
        flags = flags + 1
        print(("%d\t%s\t%s\t%.4f\t%.4f\t%+.1f\t%s"):format(k - 1, os.date("!%Y-%m-%d %H:%M:%S", math.floor(starts[k])),
              name, v, mean, z, tostring(r:top_ports("tcp_dst", k, 3))))
      end
    end
  end
end
print(("# %d flag%s"):format(flags, flags == 1 and "" or "s"))
