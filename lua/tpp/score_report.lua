-- tpp.score_report: the texts scripts/score.lua writes from a score table (tpp.score): the scores TSV, the
-- evaluation TSV and the alarms as admd XML (MAWILab's annotation format).  Texts only; the script writes them
-- atomically (tpp.write_atomic).
local score = require "tpp.score"

local report = {}

-- A real as the critical table spells it: the shortest "%.Ng" that reads back as the same double, "nan" for NaN
-- (and "inf", "-inf"); integers as integers.
function report.real(v)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if math.type(v) == "integer" then return tostring(v) end
  for prec = 1, 17 do
    local text = ("%." .. prec .. "g"):format(v)
    if tonumber(text) == v then return text end
  end
  return ("%.17g"):format(v)
end
local real = report.real

-- The scores table: a header `interval start <score> <score>_alarm ...` (interval 0-based as in the critical
-- table, start in epoch seconds to the microsecond), then one row per interval.  With `per_column`, the z-scores
-- of each column follow: `robust_z_<column>`, `ewma_z_<column>` (signed; the score is the largest |z|).
function report.scores_text(r, s, per_column)
  local head, cols = { "interval", "start" }, {}
  for _, name in ipairs(s.names) do
    head[#head + 1] = name
    head[#head + 1] = name .. "_alarm"
    cols[#cols + 1] = s[name]
    cols[#cols + 1] = s.alarm[name]
  end
  if per_column then
    for _, name in ipairs(s.names) do
      if name == "robust_z" or name == "ewma_z" then
        for _, c in ipairs(s.columns) do
          head[#head + 1] = name .. "_" .. c
          cols[#cols + 1] = s.detail[name][c]
        end
      end
    end
  end
  local lines = { table.concat(head, "\t") }
  local iv, start = r:column("interval"), r:column("start")
  for i = 1, #r do
    local row = { tostring(iv[i]), ("%.6f"):format(start[i]) }
    for k, c in ipairs(cols) do row[k + 2] = real(c[i]) end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The evaluation of every score of s against the 0/1 column truth (tpp.score.evaluate at the method's alarms):
-- a header `score precision recall fpr roc_auc pr_auc`, one row per score.  Also returns the evaluations by name.
function report.eval_text(s, truth)
  local lines, all = { "score\tprecision\trecall\tfpr\troc_auc\tpr_auc" }, {}
  for _, name in ipairs(s.names) do
    local e = score.evaluate(s[name], truth, s.alarm[name])
    all[name] = e
    lines[#lines + 1] = table.concat({ name, real(e.precision), real(e.recall), real(e.fpr), real(e.roc_auc),
                                       real(e.pr_auc) }, "\t")
  end
  return table.concat(lines, "\n") .. "\n", all
end

-- The runs of consecutive alarm intervals of one score: { first, last } (1-based indices), in order.
function report.runs(alarm)
  local out, first = {}, nil
  for i = 1, #alarm + 1 do
    local on = alarm[i] == 1
    if on and not first then first = i
    elseif not on and first then out[#out + 1] = { first, i - 1 }; first = nil end
  end
  return out
end

-- A string as an XML attribute value: the five special characters as entities, a character XML 1.0 cannot hold
-- (C0 controls other than tab, newline, return) as U+FFFD, and tab, newline, return as character references so
-- that attribute-value normalisation keeps them.
function report.xml_attr(v)
  v = tostring(v)
  v = v:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;" })
  v = v:gsub("[\t\n\r]", { ["\t"] = "&#9;", ["\n"] = "&#10;", ["\r"] = "&#13;" })
  v = v:gsub("[%z\1-\8\11\12\14-\31\127]", "\239\191\189")
  return v
end
local attr = report.xml_attr

-- Epoch seconds t as admd's sec and usec (rounded to the microsecond, carried into the seconds), `back`
-- microseconds earlier.
local function sec_usec(t, back)
  local sec = math.floor(t)
  local usec = math.floor((t - sec) * 1e6 + 0.5) - (back or 0)
  if usec >= 1000000 then sec, usec = sec + 1, usec - 1000000 end
  if usec < 0 then sec, usec = sec - 1, usec + 1000000 end
  return ("%d"):format(sec), ("%d"):format(usec)
end

-- Whether r kept heavy hitters (the feature group hh).
local function has_hh(r)
  local f = r.features
  return f == "all" or ("," .. tostring(f) .. ","):find(",hh,", 1, true) ~= nil
end

-- The admd XML of the alarms of several results: list of { r = result, s = score table }, opts.filters = how many
-- heavy hitters of `src` and of `dst` become filters (default 1).  One <anomaly type="anomalous"> per run of
-- consecutive alarm intervals of a score, value "<score>,<peak>,<cause>,unknown" (the peak score of the run, the
-- column or series behind it, and the taxonomy last as MAWILab's values have it), from the run's first start to
-- the last microsecond before its end (intervals are half-open, admd's bounds inclusive, so that the alarm read
-- back as a label covers the run's intervals and no other); filters: the top heavy hitters of the run's first
-- interval (one filter per address), or one empty filter (anything) when the result has none.
function report.admd_text(list, opts)
  local k = (opts and opts.filters) or 1
  local out = { '<?xml version="1.0" encoding="UTF-8"?>\n',
                '<admd:annotation xmlns:admd="http://www.fukuda-lab.org/mawilab/admd/">\n' }
  local count = 0
  for _, item in ipairs(list) do
    local r, s = item.r, item.s
    local starts, ends = r:column("start"), r:column("end")
    local hh = has_hh(r)
    for _, row in ipairs(report.alarm_rows(s)) do
      count = count + 1
      out[#out + 1] = ('  <anomaly type="anomalous" value="%s">\n    <slice>\n')
                      :format(attr(("%s,%s,%s,unknown"):format(row.name, real(row.peak), row.cause or "-")))
      local filters = 0
      if hh then
        for _, dim in ipairs { "src", "dst" } do
          for _, e in ipairs(r:heavy_hitters(dim, row.first, k)) do
            out[#out + 1] = ('      <filter %s_ip="%s"/>\n'):format(dim, attr(e.key))
            filters = filters + 1
          end
        end
      end
      if filters == 0 then out[#out + 1] = "      <filter/>\n" end
      local fs, fu = sec_usec(starts[row.first])
      local ts, tu = sec_usec(ends[row.last], 1)
      out[#out + 1] = ('      <from sec="%s" usec="%s"/>\n      <to sec="%s" usec="%s"/>\n    </slice>\n'
                       .. '  </anomaly>\n'):format(fs, fu, ts, tu)
    end
  end
  out[#out + 1] = "</admd:annotation>\n"
  return table.concat(out), count
end

-- The alarm runs of the scores of s, as rows { name, first, last (1-based), peak, cause }, score by score.
function report.alarm_rows(s)
  local rows = {}
  for _, name in ipairs(s.names) do
    for _, run in ipairs(report.runs(s.alarm[name])) do
      local peak, cause = -math.huge, nil
      for i = run[1], run[2] do
        local v = s[name][i]
        if v == v and v > peak then peak, cause = v, s.detail.cause[name][i] end
      end
      rows[#rows + 1] = { name = name, first = run[1], last = run[2], peak = peak, cause = cause or nil }
    end
  end
  return rows
end

-- The methods the HTML page runs: those that read only the critical table's columns, cheap for any length of
-- series (the KL divergence reads every port of every interval: scripts/score.lua computes it).
report.PAGE_METHODS = { "robust_z", "ewma_z", "pca_spe" }
local PAGE_ROWS = 100

-- The body of the "Alarms" section of a result's HTML page (tpp.plot; the caller writes the heading): r:score with
-- PAGE_METHODS and the default options, one row per run of alarm intervals (at most PAGE_ROWS, then how many
-- more).  `escape` makes text HTML.  nil when the result cannot be scored (no interval).
function report.alarms_body(r, escape)
  if #r == 0 then return nil end
  local ok, s = pcall(r.score, r, { methods = report.PAGE_METHODS })
  if not ok then return nil end
  local o = s.options
  local rows = report.alarm_rows(s)
  local out = { ("<p>%d run%s of alarm intervals: robust and EWMA z-scores (λ %s) of %d columns "
    .. "against the %d intervals before, alarm above %s; Lakhina's subspace method, alarm above Q at α = %s "
    .. "(<code>r:score</code>). <code>tpp scripts/score.lua</code> writes every score, with the KL divergence of "
    .. "the port histograms and, with labels, their evaluation.</p>\n"):format(#rows, #rows == 1 and "" or "s",
    real(o.lambda), #s.columns, o.window, real(o.z), real(o.alpha)) }
  if #rows > 0 then
    local starts, ends = r:column("start"), r:column("end")
    local iv = r:column("interval")
    out[#out + 1] = "<table>\n<tr><th>score</th><th>intervals</th><th>from (UTC)</th><th>to (UTC)</th>"
                    .. "<th>peak</th><th>column</th></tr>\n"
    local utc = require("tpp.result").utc
    for k, row in ipairs(rows) do
      if k > PAGE_ROWS then
        out[#out + 1] = ("<tr><td colspan=\"6\">and %d more</td></tr>\n"):format(#rows - PAGE_ROWS)
        break
      end
      local span = row.first == row.last and tostring(iv[row.first])
                   or ("%s to %s"):format(iv[row.first], iv[row.last])
      out[#out + 1] = ("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n"):format(
        escape(row.name), span, escape(utc(starts[row.first], 3)), escape(utc(ends[row.last], 3)),
        ("%.4g"):format(row.peak), escape(row.cause or "-"))
    end
    out[#out + 1] = "</table>\n"
  end
  return table.concat(out)
end

return report
