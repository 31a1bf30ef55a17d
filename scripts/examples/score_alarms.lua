-- Anomaly alarms of a trace, by method: r:score (tpp.score) computes the robust and EWMA z-scores of the usual
-- columns, Lakhina's subspace method and the KL divergence of the destination-port histograms, and each method's
-- alarms are printed as runs of consecutive intervals, with the run's peak score, the column behind it and the
-- busiest source of its first interval.  With --labels (MAWILab admd XML), the methods are also evaluated against
-- "the interval has an anomalous event": precision, recall, false-positive rate, ROC-AUC and PR-AUC.
--
--   tpp scripts/examples/score_alarms.lua TRACE [--delta-t S] [--window W] [--method NAME]... [--labels FILE]...
--
-- TRACE is a capture (parsed with --delta-t, default 10 s) or a dump.  Exits 0 whether or not there were alarms.
local tpp = require "tpp"
local score = require "tpp.score"

local USAGE = "usage: score_alarms.lua TRACE [--delta-t S] [--window W] [--method NAME]... [--labels FILE]..."

local function fail(msg, status)   -- 2: a usage error; 1: a trace that cannot be read
  io.stderr:write("score_alarms: ", msg, "\n")
  os.exit(status or 2)
end

local path, delta_t, window, methods, labels = nil, 10, 30, {}, {}
local i = 1
while i <= #arg do
  local a = arg[i]
  local function value()
    i = i + 1
    return arg[i] or fail(a .. " needs a value\n" .. USAGE)
  end
  if a == "--delta-t" then delta_t = tonumber(value()) or fail("--delta-t must be a number of seconds")
  elseif a == "--window" then window = math.tointeger(tonumber(value())) or fail("--window must be an integer")
  elseif a == "--method" then methods[#methods + 1] = value()
  elseif a == "--labels" then labels[#labels + 1] = value()
  elseif a == "-h" or a == "--help" then print(USAGE); os.exit(0)
  elseif a:sub(1, 1) == "-" or path then fail("unexpected argument '" .. a .. "'\n" .. USAGE)
  else path = a end
  i = i + 1
end
if not path then fail(USAGE) end

local is_dump = require("tpp.result").kind(path) == "dump"
local r, err = tpp.open(path, not is_dump and { delta_t = delta_t, labels = #labels > 0 and labels or nil } or nil)
if not r then fail(err, 1) end
local ok, s = pcall(r.score, r, { window = window, methods = #methods > 0 and methods or nil })
if not ok then fail(s) end

local printable = require("tpp.walk").printable
print(("# %s: %d intervals of %g s; robust z over the %d intervals before each, alarms at |z| > %g")
      :format(printable(r.source), #r, r.delta_t, window, s.threshold.robust_z or s.options.z))
print("method\tfirst\tlast\tstart (UTC)\tpeak\tcause\ttop source")
local starts, alarms = r:column("start"), 0
for _, name in ipairs(s.names) do
  local first
  for k = 1, #r + 1 do
    local on = s.alarm[name][k] == 1
    if on and not first then first = k
    elseif not on and first then
      local peak, cause = -math.huge, "-"
      for j = first, k - 1 do
        if s[name][j] > peak then peak, cause = s[name][j], s.detail.cause[name][j] or "-" end
      end
      local top = r:heavy_hitters("src", first, 1)[1]
      print(("%s\t%d\t%d\t%s\t%.3g\t%s\t%s"):format(name, first - 1, k - 2, tpp.utc(starts[first], 0), peak, cause,
            top and top.key or "-"))
      alarms, first = alarms + 1, nil
    end
  end
end

local truth = score.truth(r)
if truth then
  print(("# evaluation against %d anomalous intervals of %d"):format(truth:sum(), truth:count()))
  print("method\tprecision\trecall\tfpr\troc_auc\tpr_auc")
  for _, name in ipairs(s.names) do
    local e = score.evaluate(s[name], truth, s.alarm[name])
    print(("%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f"):format(name, e.precision, e.recall, e.fpr, e.roc_auc, e.pr_auc))
  end
end
print(("# %d alarm%s"):format(alarms, alarms == 1 and "" or "s"))
