-- tpp.score: anomaly scores over a result's series, and their evaluation against a 0/1 truth.
--
--   local score = require "tpp.score"
--   local s = score.compute(r, { window = 30, lambda = 0.1, variance = 0.9, alpha = 0.001, z = 3 })  -- = r:score{}
--   for _, name in ipairs(s.names) do print(name, s[name], s.alarm[name], s.threshold[name]) end
--   local e = score.evaluate(s.robust_z, truth, s.alarm.robust_z)      -- precision, recall, fpr, roc_auc, pr_auc
--
-- Scores (each a column, element i = interval i-1, NaN where undefined):
--   robust_z   max over the columns of |x_i - median(W)| / (1.4826 MAD(W)), W the `window` intervals before i
--   ewma_z     max over the columns of |x_i - m| / s, m and s² the EWMA mean and variance before i
--   pca_spe    Lakhina's subspace method: the squared prediction error of the z-scored columns off the principal
--              subspace; alarm above the Jackson-Mudholkar Q_alpha
--   kl_<series> the Kullback-Leibler divergence of interval i's port histogram from interval i-1's
-- Everything here is plain Lua over #r intervals × a few columns: small numbers, no C needed.

local column = require "tpp.column"

local score = {}

local NAN = 0 / 0
local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

score.DEFAULT_COLUMNS = {
  "entropy_src", "entropy_dst", "entropy_tcp_src", "entropy_tcp_dst", "entropy_udp_src", "entropy_udp_dst",
  "entropy_src_p24", "entropy_dst_p24", "src_ips", "dst_ips", "src_p24", "dst_p24", "flows", "packets",
  "f2_src", "f2_dst",
}
-- Methods by name; "kl" stands for kl_tcp_dst and kl_udp_dst.
score.METHODS = { "robust_z", "ewma_z", "pca_spe", "kl" }
score.DEFAULTS = { window = 30, lambda = 0.1, variance = 0.9, alpha = 0.001, z = 3, epsilon = 1 }
local KL_SERIES = { tcp_src = true, tcp_dst = true, udp_src = true, udp_dst = true }

---------------------------------------------------------------------------------------------------------------
-- Small statistics
---------------------------------------------------------------------------------------------------------------

-- The first index of the sorted list s (of n values) whose value is >= v (n + 1 when none is).
local function lower_bound(s, n, v)
  local lo, hi = 1, n + 1
  while lo < hi do
    local mid = (lo + hi) // 2
    if s[mid] < v then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- Median and MAD of the sorted list s of m > 0 values.  The deviations from the median grow leftwards from
-- s[m // 2] and rightwards from s[m // 2 + 1]: merging the two runs gives the middle deviations without sorting.
local function median_mad(s, m)
  local q = m // 2
  local med = m % 2 == 1 and s[q + 1] or (s[q] + s[q + 1]) / 2
  local k1, k2 = (m + 1) // 2, m // 2 + 1           -- the middle ranks (equal when m is odd)
  local l, r, d1, d2 = q, q + 1, nil, nil
  for rank = 1, k2 do
    local dl = l >= 1 and med - s[l] or math.huge
    local dr = r <= m and s[r] - med or math.huge
    local d
    if dl <= dr then d, l = dl, l - 1 else d, r = dr, r + 1 end
    if rank == k1 then d1 = d end
    if rank == k2 then d2 = d end
  end
  return med, (d1 + d2) / 2
end

-- Robust z-scores of col against a trailing window: z_i = (x_i - med) / (1.4826 MAD) over the finite values of
-- the `w` intervals before i.  NaN for the first w intervals (incomplete window), for a window without a finite
-- value, for a NaN x_i, and where MAD is 0 (more than half the window equal: no scale to measure a distance by).
-- The window is kept sorted as it slides (one value out, one in), so each interval costs O(w), not a sort.
function score.robust_z(col, w)
  local out, sorted, m = {}, {}, 0
  for i = 1, #col do
    if i > w + 1 then                                   -- col[i - w - 1] leaves the window
      local old = col[i - w - 1]
      if finite(old) then
        table.remove(sorted, lower_bound(sorted, m, old))
        m = m - 1
      end
    end
    if i > 1 then                                       -- col[i - 1] enters it
      local new = col[i - 1]
      if finite(new) then
        table.insert(sorted, lower_bound(sorted, m, new), new)
        m = m + 1
      end
    end
    local z, x = NAN, col[i]
    if i > w and m > 0 and finite(x) then
      local med, mad = median_mad(sorted, m)
      if mad > 0 then z = (x - med) / (1.4826 * mad) end
    end
    out[i] = z
  end
  return column.new(out)
end

-- EWMA z-scores: the state (mean m, variance v) starts as the mean and population variance of the first `w`
-- finite values; each later finite x_i gets z_i = (x_i - m) / sqrt(v) with the state *before* i, then
-- d = x_i - m, m += lambda d, v = (1 - lambda) (v + lambda d²).  NaN for the first w values (warm-up), for NaN
-- values (which leave the state as it is) and while v is 0.
function score.ewma_z(col, lambda, w)
  local out, seen, sum, m, v = {}, 0, 0, nil, nil
  local first = {}
  for i = 1, #col do
    local x, z = col[i], NAN
    if finite(x) then
      if m == nil then
        seen = seen + 1
        first[seen], sum = x, sum + x
        if seen == w then
          m = sum / w
          local ss = 0
          for _, y in ipairs(first) do ss = ss + (y - m) ^ 2 end
          v = ss / w
        end
      else
        if v > 0 then z = (x - m) / math.sqrt(v) end
        local d = x - m
        m = m + lambda * d
        v = (1 - lambda) * (v + lambda * d * d)
      end
    end
    out[i] = z
  end
  return column.new(out)
end

-- The inverse of the standard normal CDF, Acklam's rational approximation (relative error below 1.2e-9).
local A = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
            -3.066479806614716e+01, 2.506628277459239e+00 }
local B = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
            -1.328068155288572e+01 }
local C = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
            4.374664141464968e+00, 2.938163982698783e+00 }
local D = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00 }

function score.normal_quantile(p)
  if type(p) ~= "number" or not (p > 0 and p < 1) then
    error(("bad argument #1 to 'normal_quantile' (a probability strictly between 0 and 1 expected, got %s)")
          :format(tostring(p)), 2)
  end
  local plow = 0.02425
  local function tail(q)
    return (((((C[1] * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) * q + C[6])
           / ((((D[1] * q + D[2]) * q + D[3]) * q + D[4]) * q + 1)
  end
  if p < plow then return tail(math.sqrt(-2 * math.log(p))) end
  if p > 1 - plow then return -tail(math.sqrt(-2 * math.log(1 - p))) end
  local q = p - 0.5
  local r = q * q
  return (((((A[1] * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * r + A[6]) * q
         / (((((B[1] * r + B[2]) * r + B[3]) * r + B[4]) * r + B[5]) * r + 1)
end

-- Eigen decomposition of the symmetric d×d matrix m (a list of rows; not changed) by cyclic Jacobi rotations.
-- Returns the eigenvalues, descending, and the matching unit eigenvectors (vectors[k][j]: component j of the k-th).
function score.eigen(m)
  local d = #m
  local a, v = {}, {}
  for i = 1, d do
    a[i], v[i] = {}, {}
    for j = 1, d do a[i][j], v[i][j] = m[i][j], i == j and 1 or 0 end
  end
  for _ = 1, 100 do
    local off, norm = 0, 0
    for i = 1, d do
      for j = 1, d do
        norm = norm + a[i][j] ^ 2
        if i ~= j then off = off + a[i][j] ^ 2 end
      end
    end
    if off <= 1e-30 * norm or off == 0 then break end
    for p = 1, d - 1 do
      for q = p + 1, d do
        if a[p][q] ~= 0 then
          -- the rotation that zeroes a[p][q]: tan(2θ) = 2 a_pq / (a_qq - a_pp), the smaller root for stability
          local theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
          local t = (theta >= 0 and 1 or -1) / (math.abs(theta) + math.sqrt(theta * theta + 1))
          local c = 1 / math.sqrt(t * t + 1)
          local s = t * c
          for k = 1, d do                       -- A <- A J (columns p, q)
            local akp, akq = a[k][p], a[k][q]
            a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
          end
          for k = 1, d do                       -- A <- Jᵀ A (rows p, q)
            local apk, aqk = a[p][k], a[q][k]
            a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
          end
          for k = 1, d do                       -- V <- V J
            local vkp, vkq = v[k][p], v[k][q]
            v[k][p], v[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
          end
        end
      end
    end
  end
  local order = {}
  for i = 1, d do order[i] = i end
  table.sort(order, function(x, y) return a[x][x] > a[y][y] end)
  local values, vectors = {}, {}
  for k, i in ipairs(order) do
    values[k] = a[i][i]
    local vec = {}
    for j = 1, d do vec[j] = v[j][i] end
    vectors[k] = vec
  end
  return values, vectors
end

-- The Jackson-Mudholkar threshold Q_alpha of the squared prediction error, from the residual eigenvalues (those
-- not in the principal subspace): phi_h = Σ λ^h, h0 = 1 - 2 phi1 phi3 / (3 phi2²),
-- Q = phi1 (c sqrt(2 phi2 h0²) / phi1 + 1 + phi2 h0 (h0 - 1) / phi1²)^(1 / h0), c the (1 - alpha) normal quantile.
-- NaN when there is no residual variance or the bracket is not positive.
function score.q_threshold(residual, alpha)
  local phi1, phi2, phi3 = 0, 0, 0
  for _, l in ipairs(residual) do
    if l > 0 then phi1, phi2, phi3 = phi1 + l, phi2 + l * l, phi3 + l * l * l end
  end
  if phi1 <= 0 or phi2 <= 0 then return NAN end
  local h0 = 1 - 2 * phi1 * phi3 / (3 * phi2 * phi2)
  local c = score.normal_quantile(1 - alpha)
  local base = c * math.sqrt(2 * phi2 * h0 * h0) / phi1 + 1 + phi2 * h0 * (h0 - 1) / (phi1 * phi1)
  if h0 == 0 or base <= 0 then return NAN end
  return phi1 * base ^ (1 / h0)
end

---------------------------------------------------------------------------------------------------------------
-- Methods over a set of columns
---------------------------------------------------------------------------------------------------------------

-- The largest |z| over the per-column z-scores, and the column it came from; NaN (and nil) where none is finite.
local function max_abs(zs, names, n)
  local out, which = {}, {}
  for i = 1, n do
    local best, at = NAN, nil
    for _, name in ipairs(names) do
      local z = zs[name][i]
      if finite(z) and (at == nil or math.abs(z) > best) then best, at = math.abs(z), name end
    end
    out[i], which[i] = best, at or false
  end
  return column.new(out), which
end

-- Lakhina's subspace method over the columns `cols` (name -> column) named in `names`.  Columns without a
-- finite value, or constant over the rows used, are left out (they carry no variance).  Rows: the intervals
-- where every remaining column is finite; each column is z-scored over them (population deviation), PCA of their
-- correlation matrix ZᵀZ/n, k the fewest components whose eigenvalues reach `variance` of the total, SPE_i the
-- squared norm of row i's residual off those k components.  Returns the SPE column (NaN elsewhere), Q_alpha and
-- details { columns, k, eigenvalues, rows, top = per interval the column with the largest residual part }.
function score.pca_spe(cols, names, n, variance, alpha)
  local used = {}
  for _, name in ipairs(names) do
    local c, any = cols[name], false
    for i = 1, n do if finite(c[i]) then any = true; break end end
    if any then used[#used + 1] = name end
  end
  local rows = {}
  for i = 1, n do
    local ok = true
    for _, name in ipairs(used) do if not finite(cols[name][i]) then ok = false; break end end
    if ok then rows[#rows + 1] = i end
  end
  -- drop the columns constant over those rows, then z-score the rest
  local kept, means, sds = {}, {}, {}
  for _, name in ipairs(used) do
    local c, s = cols[name], 0
    for _, i in ipairs(rows) do s = s + c[i] end
    local mean = #rows > 0 and s / #rows or 0
    local ss = 0
    for _, i in ipairs(rows) do ss = ss + (c[i] - mean) ^ 2 end
    local sd = #rows > 0 and math.sqrt(ss / #rows) or 0
    if sd > 0 then kept[#kept + 1], means[#kept + 1], sds[#kept + 1] = name, mean, sd end
  end
  local spe, top = {}, {}
  for i = 1, n do spe[i], top[i] = NAN, false end
  local info = { columns = kept, rows = #rows, k = 0, eigenvalues = {} }
  local d = #kept
  if d < 2 or #rows < 3 then return column.new(spe), NAN, info, top end
  local z = {}
  for r, i in ipairs(rows) do
    local row = {}
    for j, name in ipairs(kept) do row[j] = (cols[name][i] - means[j]) / sds[j] end
    z[r] = row
  end
  local cov = {}
  for a = 1, d do
    cov[a] = {}
    for b = 1, d do
      local s = 0
      for r = 1, #rows do s = s + z[r][a] * z[r][b] end
      cov[a][b] = s / #rows
    end
  end
  local values, vectors = score.eigen(cov)
  local total = 0
  for _, l in ipairs(values) do total = total + math.max(l, 0) end
  local k, acc = 0, 0
  while k < d and acc < variance * total - 1e-12 * total do
    k = k + 1
    acc = acc + math.max(values[k], 0)
  end
  local residual = {}
  for j = k + 1, d do residual[#residual + 1] = values[j] end
  info.k, info.eigenvalues, info.vectors = k, values, vectors
  for r, i in ipairs(rows) do
    local x = z[r]
    local res = {}
    for j = 1, d do res[j] = x[j] end
    for c = 1, k do
      local p = vectors[c]
      local dot = 0
      for j = 1, d do dot = dot + x[j] * p[j] end
      for j = 1, d do res[j] = res[j] - dot * p[j] end
    end
    local s, big, at = 0, -1, nil
    for j = 1, d do
      local part = res[j] * res[j]
      s = s + part
      if part > big then big, at = part, kept[j] end
    end
    spe[i], top[i] = s, at
  end
  return column.new(spe), score.q_threshold(residual, alpha), info, top
end

-- Port histograms per interval of a series: hist[i] = { [port] = count }, totals[i] = Σ count.
local function port_histograms(r, series, n)
  local hist, totals = {}, {}
  for i = 1, n do hist[i], totals[i] = {}, 0 end
  for i, port, count in r:ports(series) do
    hist[i][port] = count
    totals[i] = totals[i] + count
  end
  return hist, totals
end

-- KL(P ‖ Q) in nats for two histograms, each smoothed by adding `eps` to every port of their union support:
-- p(x) = (c_p(x) + eps) / (N_p + eps |U|).  NaN when either histogram is empty.
function score.kl(p, q, eps)
  local union, np, nq = {}, 0, 0
  for port, c in pairs(p) do union[port] = true; np = np + c end
  for port, c in pairs(q) do union[port] = true; nq = nq + c end
  if np == 0 or nq == 0 then return NAN end
  local size = 0
  for _ in pairs(union) do size = size + 1 end
  local dp, dq, d = np + eps * size, nq + eps * size, 0
  for port in pairs(union) do
    local pp = ((p[port] or 0) + eps) / dp
    local qq = ((q[port] or 0) + eps) / dq
    d = d + pp * math.log(pp / qq)
  end
  return d
end

-- KL divergence of each interval's port histogram from the one before (NaN for the first interval).
function score.kl_series(r, series, n, eps)
  local hist = port_histograms(r, series, n)
  local out = {}
  for i = 1, n do out[i] = i > 1 and score.kl(hist[i], hist[i - 1], eps) or NAN end
  return column.new(out)
end

---------------------------------------------------------------------------------------------------------------
-- score.compute: every method over a result
---------------------------------------------------------------------------------------------------------------

local function number_opt(opts, key, ok, what)
  local v = opts[key]
  if v == nil then return score.DEFAULTS[key] end
  if type(v) ~= "number" or not ok(v) then
    error(("bad option '%s' to 'score' (%s expected, got %s)"):format(key, what, tostring(v)), 3)
  end
  return v
end

-- The method names to compute from a list (or a comma-separated string; nil: all), "kl" expanded.  An unknown
-- name raises (at the caller's caller: the one who gave the option).
function score.method_names(list)
  list = list or score.METHODS
  if type(list) == "string" then
    local t = {}
    for m in list:gmatch("[^,%s]+") do t[#t + 1] = m end
    list = t
  end
  if type(list) ~= "table" then error("bad option 'methods' to 'score' (a list of method names expected)", 3) end
  local out, seen = {}, {}
  local function add(name) if not seen[name] then seen[name] = true; out[#out + 1] = name end end
  for _, m in ipairs(list) do
    if m == "kl" then add("kl_tcp_dst"); add("kl_udp_dst")
    elseif m == "robust_z" or m == "ewma_z" or m == "pca_spe" then add(m)
    elseif type(m) == "string" and m:match("^kl_") and KL_SERIES[m:sub(4)] then add(m)
    else
      error(("bad option 'methods' to 'score' (unknown method '%s': robust_z, ewma_z, pca_spe, kl, or kl_<series> "
             .. "with a series tcp_src, tcp_dst, udp_src, udp_dst)"):format(tostring(m)), 3)
    end
  end
  if #out == 0 then error("bad option 'methods' to 'score' (no method named)", 3) end
  return out
end

-- The column names to score from opts.columns (nil: the defaults the result has), checked against the result.
local function column_names(r, list)
  local have = {}
  for _, name in ipairs(r:columns()) do have[name] = true end
  if list == nil then
    local out = {}
    for _, name in ipairs(score.DEFAULT_COLUMNS) do if have[name] then out[#out + 1] = name end end
    return out
  end
  if type(list) == "string" then
    local t = {}
    for c in list:gmatch("[^,%s]+") do t[#t + 1] = c end
    list = t
  end
  if type(list) ~= "table" or #list == 0 then
    error("bad option 'columns' to 'score' (a non-empty list of column names expected)", 3)
  end
  for _, name in ipairs(list) do
    if not have[name] then
      error(("bad option 'columns' to 'score' (no column '%s'; r:columns() lists them)"):format(tostring(name)), 3)
    end
  end
  return list
end

-- score.compute(r [, opts]) -> a score table (see docs/lua-api.md, "Scores and evaluation"):
--   { names = { "robust_z", ... }, [name] = column, alarm = { [name] = column of 0/1 }, threshold = { [name] = n },
--     columns = { the columns scored }, options = { window, lambda, variance, alpha, z, epsilon },
--     detail = { robust_z = { [column] = z column }, ewma_z = { ... }, pca = { k, columns, eigenvalues, rows },
--                cause = { [name] = { [i] = the column (or series) behind the score of interval i, or false } } } }
-- opts: columns, methods, window (30), lambda (0.1), variance (0.9), alpha (0.001), z (3), epsilon (1).
function score.compute(r, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'score' (table of options expected)", 2) end
  local known = { columns = true, methods = true, window = true, lambda = true, variance = true, alpha = true,
                  z = true, epsilon = true }
  for key in pairs(opts) do
    if not known[key] then
      error(("bad option '%s' to 'score' (columns, methods, window, lambda, variance, alpha, z, epsilon)")
            :format(tostring(key)), 2)
    end
  end
  local o = {
    window = number_opt(opts, "window", function(v) return math.tointeger(v) and v >= 2 end, "an integer >= 2"),
    lambda = number_opt(opts, "lambda", function(v) return v > 0 and v < 1 end, "a number in (0, 1)"),
    variance = number_opt(opts, "variance", function(v) return v > 0 and v < 1 end, "a number in (0, 1)"),
    alpha = number_opt(opts, "alpha", function(v) return v > 0 and v < 0.5 end, "a number in (0, 0.5)"),
    z = number_opt(opts, "z", function(v) return v > 0 and finite(v) end, "a positive number"),
    epsilon = number_opt(opts, "epsilon", function(v) return v > 0 and finite(v) end, "a positive number"),
  }
  o.window = math.tointeger(o.window)
  local methods = score.method_names(opts.methods)
  local names = column_names(r, opts.columns)
  local n = #r
  local cols = {}
  for _, name in ipairs(names) do cols[name] = r:column(name) end

  local s = { names = {}, alarm = {}, threshold = {}, columns = names, options = o,
              detail = { cause = {} } }
  local function add(name, col, alarm, threshold, cause)
    s.names[#s.names + 1] = name
    s[name], s.alarm[name], s.threshold[name], s.detail.cause[name] = col, column.new(alarm), threshold, cause
  end
  local function above(col, t)
    local a = {}
    for i = 1, n do a[i] = (finite(col[i]) and col[i] > t) and 1 or 0 end
    return a
  end
  for _, m in ipairs(methods) do
    if m == "robust_z" or m == "ewma_z" then
      local zs = {}
      for _, name in ipairs(names) do
        zs[name] = m == "robust_z" and score.robust_z(cols[name], o.window)
                   or score.ewma_z(cols[name], o.lambda, o.window)
      end
      s.detail[m] = zs
      local col, which = max_abs(zs, names, n)
      add(m, col, above(col, o.z), o.z, which)
    elseif m == "pca_spe" then
      local spe, q, info, top = score.pca_spe(cols, names, n, o.variance, o.alpha)
      info.q = q
      s.detail.pca = info
      add(m, spe, above(spe, q), q, top)      -- q NaN: no alarm (x > NaN is false)
    else
      local series = m:sub(4)
      local kl = score.kl_series(r, series, n, o.epsilon)
      local z = score.robust_z(kl, o.window)  -- one-sided: a rise of the divergence is the anomaly
      local cause = {}
      for i = 1, n do cause[i] = finite(kl[i]) and series or false end
      s.detail[m] = { z = z }
      add(m, kl, above(z, o.z), o.z, cause)
    end
  end
  return s
end

---------------------------------------------------------------------------------------------------------------
-- Evaluation against a 0/1 truth
---------------------------------------------------------------------------------------------------------------

-- score.evaluate(score, truth [, alarm]) -> { precision, recall, fpr, roc_auc, pr_auc, positives, negatives,
-- alarms }.  truth: a column of 0/1 (NaN: unknown, left out); alarm: a column of 0/1, or a number (alarm where
-- score > number).  Intervals with a NaN score or truth are left out of everything.  precision = TP / (TP + FP),
-- recall = TP / P, fpr = FP / N at the alarms (NaN without alarm argument or where the denominator is 0);
-- roc_auc: the trapezoid under the ROC curve over every threshold, equal scores taken as one step (a tie between a
-- positive and a negative counts one half); pr_auc: average precision, Σ over the distinct scores, highest first,
-- of (recall step) × precision at that threshold (scikit-learn's average_precision_score).  NaN without positives
-- (and roc_auc without negatives).
function score.evaluate(sc, truth, alarm)
  if type(sc) ~= "table" or type(truth) ~= "table" then
    error("bad arguments to 'evaluate' (a score column and a truth column expected)", 2)
  end
  if #sc ~= #truth then
    error(("bad arguments to 'evaluate' (the score has %d values, the truth %d)"):format(#sc, #truth), 2)
  end
  if type(alarm) == "table" and #alarm ~= #sc then
    error(("bad argument #3 to 'evaluate' (the alarms have %d values, the score %d)"):format(#alarm, #sc), 2)
  end
  local pairs_, P, N = {}, 0, 0
  local tp, fp, alarms = 0, 0, 0
  for i = 1, #sc do
    local v, t = sc[i], truth[i]
    if finite(v) and t == t then
      local pos = t ~= 0
      pairs_[#pairs_ + 1] = { v, pos }
      if pos then P = P + 1 else N = N + 1 end
      local a
      if type(alarm) == "number" then a = v > alarm
      elseif type(alarm) == "table" then a = alarm[i] == 1 end
      if a then
        alarms = alarms + 1
        if pos then tp = tp + 1 else fp = fp + 1 end
      end
    end
  end
  local e = { positives = P, negatives = N, alarms = alarm ~= nil and alarms or nil }
  local function ratio(a, b) return b > 0 and a / b or NAN end
  if alarm ~= nil then
    e.precision, e.recall, e.fpr = ratio(tp, tp + fp), ratio(tp, P), ratio(fp, N)
  else
    e.precision, e.recall, e.fpr = NAN, NAN, NAN
  end
  table.sort(pairs_, function(a, b) return a[1] > b[1] end)
  local roc, ap = 0, 0
  local ctp, cfp, k = 0, 0, 1
  while k <= #pairs_ do
    local v, gtp, gfp = pairs_[k][1], 0, 0
    while k <= #pairs_ and pairs_[k][1] == v do
      if pairs_[k][2] then gtp = gtp + 1 else gfp = gfp + 1 end
      k = k + 1
    end
    -- one step of the curves: from (cfp, ctp) to (cfp + gfp, ctp + gtp).  The ROC area is summed in integers
    -- (twice the trapezoids, in units of 1/(P N)) and divided once, so that a perfect score gives exactly 1.
    roc = roc + gfp * (2 * ctp + gtp)
    ctp, cfp = ctp + gtp, cfp + gfp
    if gtp > 0 then ap = ap + gtp * ctp / (ctp + cfp) end
  end
  e.roc_auc = (P > 0 and N > 0) and roc / (2 * P * N) or NAN
  e.pr_auc = P > 0 and ap / P or NAN
  return e
end

-- The truth column of a result with labels: 1 where the interval has an anomalous event (anomalous_events > 0),
-- or, with `share`, where anomalous_pkts / ip_packets > share (0 where the interval has no IP packet); NaN where
-- the label column is NaN.  nil when the result has no labels (no such column, or NaN in every interval).
function score.truth(r, share)
  local have = {}
  for _, name in ipairs(r:columns()) do have[name] = true end
  if not have.anomalous_events or not have.anomalous_pkts then return nil end
  local ev = r:column("anomalous_events")
  if ev:count() == 0 then return nil end
  local out = {}
  if share then
    local pk, ip = r:column("anomalous_pkts"), r:column("ip_packets")
    for i = 1, #r do
      if pk[i] ~= pk[i] then out[i] = NAN
      else out[i] = (ip[i] > 0 and pk[i] / ip[i] > share) and 1 or 0 end
    end
  else
    for i = 1, #r do
      if ev[i] ~= ev[i] then out[i] = NAN else out[i] = ev[i] > 0 and 1 or 0 end
    end
  end
  return column.new(out)
end

return score
