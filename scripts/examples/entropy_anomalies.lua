-- Entropy-based anomaly flags: an interval is flagged when a column (by default the source- and destination-
-- address entropies) lies far from its usual level.  A port scan (one source, one target) concentrates both
-- address distributions, an address sweep (one source, many targets) concentrates the sources and scatters the
-- destinations: either moves the entropies well outside their normal spread.
--
--   tpp scripts/examples/entropy_anomalies.lua TRACE [--threshold Z] [--window N] [--delta-t S] [--column NAME]...
--
-- The usual level is by default the whole trace's: the robust z-score (x - median) / (1.4826 · MAD), MAD the
-- median absolute deviation, which the anomalies themselves hardly move (a mean and standard deviation would be
-- pulled towards them).  With --window N it is the N intervals before each one instead (their mean and standard
-- deviation, a sliding-window z-score; the first N intervals are not judged), for long traces whose level drifts.
-- An interval is flagged when |z| >= Z (default 3.5, Iglewicz and Hoaglin's cut-off for the robust score).
--
-- TRACE is a capture (parsed with --delta-t, default 10 s) or a dump.  Prints one line per flag: the interval,
-- its start (UTC), the column, its value, the baseline, the z-score and the interval's busiest TCP destination
-- ports.  Exits 0 whether or not anything was flagged.
local tpp = require "tpp"

local USAGE = "usage: entropy_anomalies.lua TRACE [--threshold Z] [--window N] [--delta-t S] [--column NAME]..."

local function fail(msg, status)   -- 2: a usage error; 1: a trace that cannot be read
  io.stderr:write("entropy_anomalies: ", msg, "\n")
  os.exit(status or 2)
end

local path, window, threshold, delta_t, names = nil, nil, 3.5, nil, {}
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    return arg[i] or fail(a .. " needs a value\n" .. USAGE)
  end
  if a == "--window" then window = math.tointeger(tonumber(value())) or fail("--window must be an integer")
  elseif a == "--threshold" then threshold = tonumber(value())
  elseif a == "--delta-t" then delta_t = tonumber(value())
  elseif a == "--column" then names[#names + 1] = value()
  elseif a == "-h" or a == "--help" then print(USAGE); os.exit(0)
  elseif a:sub(1, 1) == "-" or path then fail("unexpected argument '" .. a .. "'\n" .. USAGE)
  else path = a end
  i = i + 1
end
if not path then fail(USAGE) end
if window and window < 2 then fail("--window must be an integer of at least 2") end
if not threshold or threshold <= 0 then fail("--threshold must be a positive number") end
if delta_t ~= nil and not (delta_t > 0) then fail("--delta-t must be a positive number of seconds") end
if #names == 0 then names = { "entropy_src", "entropy_dst" } end

local kind = require("tpp.result").kind(path)
local r, err = tpp.open(path, kind ~= "dump" and { delta_t = delta_t or 10 } or nil)
if not r then fail(err, 1) end

-- z-scores against the whole trace: (x - median) / (1.4826 · MAD).  When more than half the values are equal
-- (MAD 0), the mean absolute deviation scaled to match (· 1.2533) takes its place; a constant column gives NaN.
local function robust_z(col)
  local median = col:median()
  if not median then return col * (0 / 0) end
  local dev = (col - median):map(math.abs)
  local scale = 1.4826 * dev:median()
  if scale == 0 then scale = 1.2533 * dev:mean() end
  return (col - median) / scale, median
end

-- z-scores against the `window` intervals before each one: rolling(window) ends at k, so k-1 is the window
-- before k.
local function window_z(col)
  local mean, std = col:rolling(window, "mean"), col:rolling(window, "std")
  local z, base = {}, {}
  for k = 1, #col do
    local m, s = mean[k - 1], std[k - 1]
    base[k] = m or 0 / 0
    z[k] = (m and s and s > 0) and (col[k] - m) / s or 0 / 0
  end
  return tpp.column(z), tpp.column(base)
end

local how = window and ("the %d intervals before"):format(window) or "the whole trace (median, MAD)"
print(("# %s: %d interval%s of %g s; z-score against %s, flagged when |z| >= %g")
      :format(require("tpp.walk").printable(r.source), #r, #r == 1 and "" or "s", r.delta_t, how, threshold))   -- one line, whatever the name
print("interval\tstart (UTC)\tcolumn\tvalue\tbaseline\tz\ttop tcp_dst ports")
local starts, flags = r:column("start"), 0
for _, name in ipairs(names) do
  local ok, col = pcall(r.column, r, name)
  if not ok then fail(col) end
  local z, base, median
  if window then z, base = window_z(col) else z, median = robust_z(col) end
  for k = 1, #col do
    if z[k] == z[k] and math.abs(z[k]) >= threshold then
      flags = flags + 1
      print(("%d\t%s\t%s\t%.4f\t%.4f\t%+.1f\t%s"):format(k - 1, tpp.utc(starts[k], 0), name, col[k],
            window and base[k] or median, z[k], tostring(r:top_ports("tcp_dst", k, 3))))
    end
  end
end
print(("# %d flag%s"):format(flags, flags == 1 and "" or "s"))
