-- tpp scripts/score.lua [options] DUMP|CAPTURE ...
-- Anomaly scores of each input's series (tpp.score: robust z, EWMA z, Lakhina's subspace method, KL divergence of
-- port histograms) written as DIR/scores/<name>_scores.tsv, one column per score and an alarm column per score.
-- When the result has labels (its anomalous_events column is not all NaN: a dump made with the main job's
-- --labels, or a capture parsed here with --labels), also DIR/eval/<name>_eval.tsv: precision, recall and
-- false-positive rate at each method's alarms, ROC-AUC and PR-AUC over all thresholds, against the truth "the
-- interval has an anomalous event" (or, with --truth-share X, anomalous_pkts / ip_packets > X).  --admd-out FILE
-- writes every alarm as admd XML, MAWILab's format.  Every file is written atomically; inputs are never changed.
-- Exit status: 0 when every input was scored and written, 1 when an input or an output failed, 2 on a usage
-- error, 130 when interrupted.
local tpp = require "tpp"
local script_cli = require "tpp.script_cli"
local cli = require "tpp.cli"
local outputs = require "tpp.outputs"
local walk = require "tpp.walk"
local score = require "tpp.score"
local report = require "tpp.score_report"

local USAGE = "tpp scripts/score.lua [options] DUMP|CAPTURE ..."

local OPTIONS = {
  { "-o --out", "DIR", "Output root for scores/ and eval/.", "." },
  { "--name", "NAME", "The name the outputs are called after (one input only; default: the input's file name)." },
  { "-t --delta-t", "SEC", "Interval length for captures; dumps keep theirs.", "10" },
  { "--labels", "FILE", "admd XML (or MAWILab CSV) labels for the captures, as the main job's --labels", nil, "many" },
  { "--truth-share", "X", "Truth: anomalous_pkts / ip_packets > X instead of anomalous_events > 0." },
  { "-c --columns", "LIST", "Columns to score, comma-separated (default: the entropies, distinct counts, packets, "
                            .. "f2_src, f2_dst)." },
  { "-m --methods", "LIST", "Scores: robust_z, ewma_z, pca_spe, kl (= kl_tcp_dst,kl_udp_dst), kl_<series>.",
    "robust_z,ewma_z,pca_spe,kl" },
  { "-w --window", "W", "Trailing window of the robust z-scores, warm-up of the EWMA, in intervals.", "30" },
  { "--lambda", "L", "EWMA weight of the newest interval.", "0.1" },
  { "--variance", "V", "Share of the variance the principal subspace covers.", "0.9" },
  { "--alpha", "A", "False-alarm rate of the Q threshold of the subspace method.", "0.001" },
  { "-z --threshold", "Z", "Alarm when a z-score exceeds Z (robust_z, ewma_z, and the robust z of the KL).", "3" },
  { "--per-column", nil, "Also write each column's robust and EWMA z-score (robust_z_<column>, ewma_z_<column>)." },
  { "--admd-out", "FILE", "Write the alarms of every input as admd XML to FILE." },
  { "--filters", "K", "Heavy hitters of src and of dst per alarm as admd filters.", "1" },
  { "-q --quiet", nil, "Only problems on stderr." },
  { "-h --help", nil, "Show this help and exit." },
}

local EPILOG = [[
Each input is a dump (mem_dump/*.tpd of the main job, or r:dump) or a capture (parsed with --delta-t and
--labels).  Labels are matched against packets, so --labels needs captures: a dump keeps the label columns it was
made with.  Scores are NaN where undefined (the first W intervals of a trailing window, a MAD of 0, an interval
without a finite value); an alarm column is 1 where the score crossed its threshold, else 0.

Exit status: 0 when every input was scored and every output written, 1 when an input could not be read or an
output not written, 2 on a usage error, 130 when interrupted.]]

local parser = script_cli.parser {
  prog = "tpp scripts/score.lua", usage = USAGE, options = OPTIONS, epilog = EPILOG,
  summary = "Anomaly scores of each input's series, their alarms, and their evaluation against labels.",
  argument = { "DUMP|CAPTURE", "Dumps (.tpd) or captures." },
}

local printable = walk.printable
local function die(msg) script_cli.usage_error("score", USAGE, msg) end

local ok_args, args = parser:pparse(arg)
if not ok_args then die(args) end
if #args.inputs == 0 then die("no input: name dumps or captures") end

local function number(flag, text, ok, what)
  local v = tonumber(text)
  if not v or not ok(v) then die(("option %s must be %s, got '%s'"):format(flag, what, text)) end
  return v
end
local out, why = cli.check("out", args.out)
if not out then die("option --out " .. why) end
local delta_t
delta_t, why = cli.check("delta_t", args.delta_t)
if not delta_t then die("option --delta-t " .. why .. ", got '" .. args.delta_t .. "'") end
if args.name then
  local name
  name, why = cli.check("series", args.name)
  if not name then die("option --name " .. why .. ", got '" .. args.name .. "'") end
  if #args.inputs > 1 then die("--name names the outputs of one input; " .. #args.inputs .. " were given") end
end
local opts = {
  window = math.tointeger(number("--window", args.window, function(v) return math.tointeger(v) and v >= 2 end,
                                 "an integer of at least 2")),
  lambda = number("--lambda", args.lambda, function(v) return v > 0 and v < 1 end, "a number between 0 and 1"),
  variance = number("--variance", args.variance, function(v) return v > 0 and v < 1 end,
                    "a number between 0 and 1"),
  alpha = number("--alpha", args.alpha, function(v) return v > 0 and v < 0.5 end, "a number between 0 and 0.5"),
  z = number("--threshold", args.threshold, function(v) return v > 0 and v < math.huge end, "a positive number"),
  methods = args.methods,
  columns = args.columns,
}
do
  local ok, why_not = pcall(score.method_names, args.methods)
  if not ok then die("option --methods: " .. tostring(why_not):gsub("^.-%((.*)%)$", "%1")) end
end
local share = args.truth_share and number("--truth-share", args.truth_share, function(v) return v >= 0 and v < 1 end,
                                          "a share from 0 to 1")
local filters = math.tointeger(number("--filters", args.filters, function(v) return math.tointeger(v) and v >= 0 end,
                                      "a non-negative integer"))
local labels = args.labels or {}
for _, path in ipairs(labels) do
  local f, err = io.open(path, "r")
  if not f then die("option --labels: " .. err) end
  f:close()
end

-- --admd-out replaces its target: it must not be one of the inputs or label files (compared by device and
-- inode, so links and other spellings count).
if args.admd_out then
  local lfs = require "lfs"
  local target = lfs.attributes(args.admd_out)
  if target then
    local given = table.move(labels, 1, #labels, #args.inputs + 1, table.move(args.inputs, 1, #args.inputs, 1, {}))
    for _, p in ipairs(given) do
      local a = lfs.attributes(p)
      if a and a.dev == target.dev and a.ino == target.ino then
        die(("--admd-out %s is the input %s, which score.lua never replaces"):format(args.admd_out, p))
      end
    end
  end
end

local function say(text) io.stderr:write("score: ", printable(text), "\n") end
local function info(text) if not args.quiet then say(text) end end

-- The outputs' name of an input: --name, else its file name without the capture or dump suffixes.
local function name_of(path)
  if args.name then return args.name end
  local stem = walk.stem(path):gsub("%.tpd$", "")
  return stem
end

-- Open one input: a dump as it is, a capture parsed with delta_t (and the labels).  result or nil, message.
local function open(path)
  local kind, err = require("tpp.result").kind(path)
  if not kind then return nil, err end
  if kind == "dump" then
    if #labels > 0 then
      return nil, path .. ": a dump: labels are matched against packets, so --labels needs the capture (or make "
                  .. "the dump with the main job's --labels)"
    end
    return tpp.open(path)
  end
  return tpp.open(path, { delta_t = delta_t, labels = #labels > 0 and labels or nil })
end

local function main()
  local seen, bad, done, admd = {}, 0, 0, {}
  local created = {}
  for _, path in ipairs(args.inputs) do
    local name = name_of(path)
    if seen[name] then
      say(("%s: its outputs would be called %s, as those of %s: give them different names"):format(path, name,
          seen[name]))
      bad = bad + 1
      goto next
    end
    seen[name] = path
    do
      local r, err = open(path)
      if not r then say(err); bad = bad + 1; goto next end
      local okc, s = pcall(r.score, r, opts)
      if not okc then
        say(("%s: %s"):format(path, (tostring(s):gsub("^bad option '(.-)' to 'score' ", "option %1 "))))
        bad = bad + 1
        goto next
      end
      local truth = score.truth(r, share)
      if #labels > 0 and not truth then
        say(("%s: --labels was given, but the result has no label columns"):format(path))
        bad = bad + 1
        goto next
      end
      local files = {
        scores = ("%s/scores/%s_scores.tsv"):format(out, name),
        eval = ("%s/eval/%s_eval.tsv"):format(out, name),
      }
      local okd, derr = outputs.mkdir(files.scores:match("^(.*)/"), created)
      if okd and truth then okd, derr = outputs.mkdir(files.eval:match("^(.*)/"), created) end
      if not okd then say(derr); bad = bad + 1; goto next end
      local ok, werr = tpp.write_atomic(files.scores, report.scores_text(r, s, args.per_column))
      if not ok then say(werr); bad = bad + 1; goto next end
      local alarms = {}
      for _, n in ipairs(s.names) do alarms[#alarms + 1] = ("%s %d"):format(n, s.alarm[n]:sum()) end
      local line = ("%s: %d intervals; alarms: %s -> %s"):format(name, #r, table.concat(alarms, ", "), files.scores)
      if truth then
        ok, werr = tpp.write_atomic(files.eval, (report.eval_text(s, truth)))
        if not ok then say(werr); bad = bad + 1; goto next end
        line = line .. (", %s (%d of %d intervals anomalous)"):format(files.eval, truth:sum(), truth:count())
      else
        line = line .. " (no labels: no evaluation)"
      end
      info(line)
      admd[#admd + 1] = { r = r, s = s }
      done = done + 1
    end
    ::next::
  end
  if args.admd_out then
    if bad > 0 then
      say("not written: " .. args.admd_out .. " (an input failed)")
    else
      local text, count = report.admd_text(admd, { filters = filters })
      local ok, err = tpp.write_atomic(args.admd_out, text)
      if not ok then say(err); bad = bad + 1
      else info(("%d alarm%s -> %s"):format(count, count == 1 and "" or "s", args.admd_out)) end
    end
  end
  if done == 0 then outputs.remove_empty(created) end
  return bad == 0 and 0 or 1
end

local ok, status = xpcall(main, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
if not ok then error(status, 0) end
os.exit(status)
