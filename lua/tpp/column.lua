-- tpp.column: the numeric sequences r:column(name) and r:port_entropy(series) return.
--
--   local c = r:column("entropy_src")     -- c[i] is interval i-1; #c, ipairs(c) as for any sequence
--   print(c:min(), c:mean(), c:max(), c:std(), c:quantile(0.95), c:argmax())
--   print(c)                               -- column of 90: min 0.41, mean 0.83, max 0.95  ▆▇▇█▁▇▆…
--   local z, d = c:zscore(), c:diff()       -- derived columns of the same length, NaN where undefined
--   local m = c:rolling(5, "median")       -- element i: the median of c[i-4 .. i]
--   local share = r:column("syn") / r:column("packets")   -- arithmetic, element by element
--
-- A column is a plain Lua table (a sequence of numbers, integers for counts) carrying the "tpp.column" metatable,
-- whose __index is the methods table below: indexing, #, ipairs, table.concat and table.sort work as on any table,
-- and busted's assert.same compares it with a plain table.  Changing it changes only that copy.
-- Statistics skip NaN values (iat_skew and iat_kurt are NaN where undefined); with no value left they return nil
-- (count and sum return 0).

local core = require "tpp.core"

local Column = core._meta.column        -- created by the C core (lresult.c), which sets it on the tables it makes
local methods = {}
Column.__index = methods

local column = { methods = methods, meta = Column }

-- t (a sequence of numbers) made a column: its metatable is set, t itself is returned (no copy).
function column.new(t)
  if type(t) ~= "table" then error(("bad argument #1 to 'column' (table expected, got %s)"):format(type(t)), 2) end
  return setmetatable(t, Column)
end

function column.is(x) return type(x) == "table" and getmetatable(x) == Column end

local function check(c, name)
  if getmetatable(c) ~= Column then
    error(("bad self to '%s' (tpp.column expected, got %s)"):format(name, type(c)), 3)
  end
end

-- The non-NaN values, in order.
local function values(c)
  local out, n = {}, 0
  for i = 1, #c do
    local v = c[i]
    if v == v then n = n + 1; out[n] = v end
  end
  return out, n
end

-- Number of non-NaN values.
function methods.count(c)
  check(c, "count")
  local _, n = values(c)
  return n
end

function methods.sum(c)
  check(c, "sum")
  local s = 0
  for i = 1, #c do
    local v = c[i]
    if v == v then s = s + v end
  end
  return s
end

-- Index (1-based) and value of the first smallest / largest non-NaN value; nil when there is none.
local function extreme(c, better)
  local bi, bv
  for i = 1, #c do
    local v = c[i]
    if v == v and (bv == nil or better(v, bv)) then bi, bv = i, v end
  end
  return bi, bv
end
local function less(a, b) return a < b end
local function greater(a, b) return a > b end

function methods.argmin(c) check(c, "argmin"); return extreme(c, less) end
function methods.argmax(c) check(c, "argmax"); return extreme(c, greater) end
function methods.min(c) check(c, "min"); return select(2, extreme(c, less)) end
function methods.max(c) check(c, "max"); return select(2, extreme(c, greater)) end

function methods.mean(c)
  check(c, "mean")
  local s, n = 0, 0
  for i = 1, #c do
    local v = c[i]
    if v == v then s, n = s + v, n + 1 end
  end
  if n > 0 then return s / n end
end

-- An optional integer argument of a method: `default` when nil, an error at the caller's caller below `min`.
local function integer_arg(v, default, min, method, what)
  if v == nil then return default end
  local n = type(v) == "number" and math.tointeger(v) -- 2.0 is 2, as for Lua's own functions
  if not n or n < min then
    error(("bad argument #1 to '%s' (%s expected)"):format(method, what), 3)
  end
  return n
end

-- Standard deviation, Σ(x - mean)² / (n - ddof) under a square root: ddof 0 (the default) is the population
-- deviation (numpy's default), 1 the sample deviation (R's sd, pandas); nil when n <= ddof.
function methods.std(c, ddof)
  check(c, "std")
  ddof = integer_arg(ddof, 0, 0, "std", "non-negative integer")
  local mean = methods.mean(c)
  local s, n = 0, 0
  for i = 1, #c do
    local v = c[i]
    if v == v then s, n = s + (v - mean) ^ 2, n + 1 end
  end
  if n > ddof then return math.sqrt(s / (n - ddof)) end
end

-- The q-quantile (0 <= q <= 1) by linear interpolation between order statistics (numpy's default, R's type 7).
function methods.quantile(c, q)
  check(c, "quantile")
  if type(q) ~= "number" or not (q >= 0 and q <= 1) then
    error("bad argument #1 to 'quantile' (number between 0 and 1 expected)", 2)
  end
  local xs, n = values(c)
  if n == 0 then return nil end
  table.sort(xs)
  local h = (n - 1) * q + 1
  local lo = math.floor(h)
  if lo >= n then return xs[n] end
  return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])
end

function methods.median(c) check(c, "median"); return methods.quantile(c, 0.5) end

-- A plain table (no metatable) with the same values.
function methods.totable(c)
  check(c, "totable")
  return table.move(c, 1, #c, 1, {})
end

-- A new column of fn(value, i) for every element.
function methods.map(c, fn)
  check(c, "map")
  if type(fn) ~= "function" then error("bad argument #1 to 'map' (function expected)", 2) end
  local out = {}
  for i = 1, #c do out[i] = fn(c[i], i) end
  return setmetatable(out, Column)
end

---------------------------------------------------------------------------------------------------------------
-- Derived columns: differences, z-scores, rolling windows, arithmetic.  Each returns a new column of the same
-- length, NaN where the value is undefined, so that element i still belongs to interval i-1.
---------------------------------------------------------------------------------------------------------------

local NAN = 0 / 0

-- c[i] - c[i - lag]; the first `lag` elements (which have no predecessor) are NaN.
function methods.diff(c, lag)
  check(c, "diff")
  lag = integer_arg(lag, 1, 1, "diff", "positive integer")
  local out = {}
  for i = 1, #c do out[i] = i > lag and c[i] - c[i - lag] or NAN end
  return setmetatable(out, Column)
end

-- (x - mean) / std with c:std(ddof): how many standard deviations each value lies from the mean.  All NaN when
-- the deviation is undefined or 0 (every value the same).
function methods.zscore(c, ddof)
  check(c, "zscore")
  ddof = integer_arg(ddof, 0, 0, "zscore", "non-negative integer")
  local mean, std = methods.mean(c), methods.std(c, ddof)
  local out = {}
  for i = 1, #c do out[i] = (std and std > 0) and (c[i] - mean) / std or NAN end
  return setmetatable(out, Column)
end

-- The statistics rolling() accepts by name: column methods taking no argument and returning one number.
local ROLLING = { mean = true, median = true, min = true, max = true, std = true, sum = true, count = true }

-- Element i is fn over the window c[i-k+1 .. i] (a trailing window ending at i, as pandas' rolling()); the first
-- k-1 elements, whose window is incomplete, are NaN.  fn is the name of a statistic (the column method: NaN
-- values in the window are skipped, a window without values gives NaN, and a count of 0) or a function given the
-- window as a column (NaN included) and returning a number (nil for NaN).
function methods.rolling(c, k, fn)
  check(c, "rolling")
  k = type(k) == "number" and math.tointeger(k)
  if not k or k < 1 then error("bad argument #1 to 'rolling' (positive integer expected)", 2) end
  local stat
  if type(fn) == "function" then stat = fn
  elseif ROLLING[fn] then stat = methods[fn]
  else
    error(("bad argument #2 to 'rolling' (a function or one of 'count', 'max', 'mean', 'median', 'min', 'std', "
           .. "'sum' expected, got %s)"):format(type(fn) == "string" and ("'" .. fn .. "'") or type(fn)), 2)
  end
  local out = {}
  for i = 1, #c do
    if i < k then out[i] = NAN
    else
      local window = setmetatable(table.move(c, i - k + 1, i, 1, {}), Column)
      local v
      -- a named statistic of a window without values is NaN (sum would say 0); count says how many there are
      if stat == fn or fn == "count" or methods.count(window) > 0 then v = stat(window) end
      if v ~= nil and type(v) ~= "number" then
        error(("rolling: the function returned a %s for the window ending at %d (a number or nil expected)")
              :format(type(v), i), 2)
      end
      out[i] = v == nil and NAN or v
    end
  end
  return setmetatable(out, Column)
end

-- Arithmetic: column op column (element by element; the lengths must match) or column op number (either side).
local function arith(symbol, op)
  return function(a, b)
    local ca, cb = getmetatable(a) == Column, getmetatable(b) == Column
    local out = {}
    if ca and cb then
      if #a ~= #b then
        error(("attempt to %s columns of different lengths (%d and %d values)"):format(symbol, #a, #b), 2)
      end
      for i = 1, #a do out[i] = op(a[i], b[i]) end
    elseif ca and type(b) == "number" then
      for i = 1, #a do out[i] = op(a[i], b) end
    elseif cb and type(a) == "number" then
      for i = 1, #b do out[i] = op(a, b[i]) end
    else
      local other = ca and b or a
      error(("attempt to %s a column and a %s (a column or a number expected)"):format(symbol, type(other)), 2)
    end
    return setmetatable(out, Column)
  end
end

Column.__add = arith("add", function(x, y) return x + y end)
Column.__sub = arith("subtract", function(x, y) return x - y end)
Column.__mul = arith("multiply", function(x, y) return x * y end)
Column.__div = arith("divide", function(x, y) return x / y end)
function Column.__unm(c)
  local out = {}
  for i = 1, #c do out[i] = -c[i] end
  return setmetatable(out, Column)
end

local BARS = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" }

-- A text sparkline of at most `width` (default 40) characters: one bar per element, or per group of consecutive
-- elements (their mean) when there are more; a space where there is no value.
function methods.sparkline(c, width)
  check(c, "sparkline")
  width = integer_arg(width, 40, 1, "sparkline", "positive integer")
  local n = #c
  local w = math.min(n, width)
  local cells = {}
  for k = 1, w do
    local first, last = (k - 1) * n // w + 1, k * n // w
    local s, m = 0, 0
    for i = first, last do
      local v = c[i]
      if v == v then s, m = s + v, m + 1 end
    end
    cells[k] = m > 0 and s / m or false
  end
  local lo, hi
  for k = 1, w do
    local v = cells[k]
    if v then lo, hi = math.min(lo or v, v), math.max(hi or v, v) end
  end
  local out = {}
  for k = 1, w do
    local v = cells[k]
    if not v then out[k] = " "
    elseif hi == lo then out[k] = BARS[1]
    else out[k] = BARS[math.min(8, math.floor((v - lo) / (hi - lo) * 8) + 1)] end
  end
  return table.concat(out)
end

-- A number as a short text: integers as they are, others with 4 significant digits.
function column.format(v)
  if v == nil then return "nil" end
  if math.type(v) == "integer" then return tostring(v) end
  if v ~= v then return "nan" end
  if v == math.floor(v) and math.abs(v) < 1e15 then return ("%d"):format(v) end
  return ("%.4g"):format(v)
end

function Column.__tostring(c)
  local n = #c
  if n == 0 then return "column of 0 values" end
  local lo, mean, hi = methods.min(c), methods.mean(c), methods.max(c)
  if lo == nil then return ("column of %d: all NaN"):format(n) end
  local f = column.format
  return ("column of %d: min %s, mean %s, max %s  %s"):format(n, f(lo), f(mean), f(hi), methods.sparkline(c))
end

return column
