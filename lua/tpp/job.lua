-- tpp.job: one capture of the main job — reuse its dump or parse it, then write all its outputs.
--
--   local summary = job.run(spec, hooks)
--
-- spec  = { path = capture, name = output name (tpp.walk.names), out = output root, parse = tpp.parse options,
--           figures = list of figure numbers, force = re-parse even with an up-to-date dump, plot_jobs = N
--           (gnuplot processes at once), stream = the path is "-" or a FIFO (tpp.walk.is_stream): read once, its
--           dump never reused, dump_only = a piece of a series (exec.lua --series): the dump is its only output,
--           reuse_only = never parse (exec.lua --finish): a capture without a usable dump fails, "no usable dump
--           (did its task fail?)", format = the tables' format ("tsv" by default, "csv", "ndjson"), columns = the
--           critical table's columns (a list of names; nil: all) }
-- hooks = { progress = function(bytes_read, size, packets) end, message = function(text) end }  (both optional)
-- summary = { path, name, status = "ok" | "incomplete" | "failed", reason (incomplete, failed), reused (boolean),
--             packets, intervals, seconds, files = { paths written }, figures = files written by tpp.plot,
--             problems = number of outputs that failed, first_ns, last_ns = the result's first and last packet
--             (integer ns; last_ns once the outputs are written),
--             dump = the dump's path when it was written or reused, segments = { { first_ns, last_ns }... },
--             stopped_by_limit (these three dump_only) }
--
-- job.write_outputs(r, spec, summary, how) writes the outputs of any result (a series' merge too); see there.
--
-- Messages are "path: what happened" lines for the caller to print.  job.run never raises for a failure of the
-- world (unreadable capture, unwritable output); it does raise for an interrupt (Ctrl-C) or a bug.
local lfs = require "lfs"
local tpp = require "tpp"
local outputs = require "tpp.outputs"
local walk = require "tpp.walk"

local job = {}

-- tpp.parse's defaults of the options the main job passes only when given (tpp.cli), for job.dump_matches.
job.MAX_GAP, job.KEEP_TABLES = 3600, "edges"
job.FLOW_TIMEOUT, job.HEAVY_HITTERS, job.HHH_PHI = 60, 10, 0.05

-- The feature groups of a tpp.parse option (nil, "all", "none", "ports,flows" or an array of names) as a result
-- reports them (r.features): "all", "none", or the groups in tpp.feature_groups' order.
local function feature_text(v)
  if v == nil then return "all" end
  local names = {}
  if type(v) == "table" then
    names = v
  else
    local spec = tostring(v):lower():gsub("%s+", "")
    if spec == "all" or spec == "none" then return spec end
    for name in (spec .. ","):gmatch("([^,]*),") do names[#names + 1] = name end
  end
  local wanted, out = {}, {}
  for _, name in ipairs(names) do wanted[name] = true end
  for _, g in ipairs(tpp.feature_groups) do if wanted[g] then out[#out + 1] = g end end
  return #out == #tpp.feature_groups and "all" or #out == 0 and "none" or table.concat(out, ",")
end

local function ns(seconds) return math.floor(seconds * 1e9 + 0.5) end

-- Does the dump `d` (a loaded result) describe the capture as it is now (`source`: { path = its absolute path
-- (tpp.walk.absolute), fingerprint = tpp.fingerprint of it }), computed with the options `opts`?  Returns true, or
-- false and why not.  Size and mtime alone are not enough: a copy made with cp -p, rsync -a or tar has both, so the
-- dump must name this very path, and its fingerprint (which covers the size, the mtime and the content's ends)
-- must be the capture's.
function job.dump_matches(d, opts, source, range)
  if d.source ~= source.path then return false, "it was made from another path (" .. tostring(d.source) .. ")" end
  -- a whole capture's dump (range 0, 0), or a chunk's (tpp.split): range = { from, to }, to 0 for the last chunk
  if (d.range_from or 0) ~= (range and range[1] or 0) or (d.range_to or 0) ~= (range and range[2] or 0) then
    return false, range and "it is of another part of the capture" or "it is of a chunk of the capture"
  end
  if not d.source_fingerprint then return false, "it holds no fingerprint of its capture" end
  if d.source_fingerprint ~= source.fingerprint then
    return false, "the capture changed (its size, modification time or content)"
  end
  local want_ns = math.floor(opts.delta_t * 1e9 + 0.5)
  local have_ns = d.delta_ns or math.floor(d.delta_t * 1e9 + 0.5)
  if have_ns ~= want_ns then return false, "delta_t differs" end
  if d.boundary ~= (opts.boundary or "aligned") then return false, "boundary differs" end
  if d.ip ~= (opts.ip or "any") then return false, "ip differs" end
  if d.encap ~= (opts.encap or "outer") then return false, "encap differs" end
  if d.anchor ~= (opts.anchor or "epoch") then return false, "anchor differs" end
  if (d.filter or "") ~= (opts.filter or "") then return false, "filter differs" end
  if d.max_packets ~= (opts.max_packets or 0) then return false, "max_packets differs" end
  if d.max_intervals ~= (opts.max_intervals or 0) then return false, "max_intervals differs" end
  -- the options of issue 14: a dump without merge state is of an older format, whose numbers and outputs differ
  -- (format 3 and before: no merge state of the research features, whose columns it does not hold)
  if d.mergeable == false then return false, "it is of an older format (without merge state or research features)" end
  if math.floor((d.max_gap or -1) * 1e9 + 0.5) ~= math.floor((opts.max_gap or job.MAX_GAP) * 1e9 + 0.5) then
    return false, "max_gap differs"
  end
  if d.keep_tables ~= (opts.keep_tables or job.KEEP_TABLES) then return false, "keep_tables differs" end
  -- the options of issue 16
  if d.features ~= feature_text(opts.features) then return false, "features differs" end
  if ns(d.flow_timeout or -1) ~= ns(opts.flow_timeout or job.FLOW_TIMEOUT) then return false, "flow_timeout differs" end
  if d.hh_k ~= (opts.heavy_hitters or job.HEAVY_HITTERS) then return false, "heavy_hitters differs" end
  if d.hhh_phi ~= (opts.hhh_phi or job.HHH_PHI) then return false, "hhh_phi differs" end
  -- the labels of issue 17: a dump made with other anomalies (or none) has other label columns
  local want
  if opts.labels then
    local list, err = opts.labels
    if type(list[1]) == "string" then list, err = require("tpp.labels").read_all(opts.labels) end
    if not list then return false, err end
    want = tpp.labels_fingerprint(list)
  end
  if d.labels_fingerprint ~= want then
    return false, want and d.labels_fingerprint and "the labels differ" or want and "it was made without labels"
      or "it was made with labels"
  end
  if d.error == "interrupted" then return false, "it was interrupted" end
  return true
end

-- "1 packet", "2 packets".
local function count(n, word) return ("%d %s%s"):format(n, word, n == 1 and "" or "s") end
job.count = count

-- What a user should know about a result beyond its numbers, as one line (nil when nothing): its own warning
-- (an undecoded link type), packets that went backwards in time or were cut short, no IP packet of the chosen
-- family, no interval at all.
function job.warning(r)
  local notes = {}
  if r.warning then notes[#notes + 1] = r.warning end
  if (r.backwards_packets or 0) > 0 then
    notes[#notes + 1] = ("%s went backwards in time (each counted in the interval it arrived in)")
      :format(count(r.backwards_packets, "packet"))
  end
  if (r.truncated_packets or 0) > 0 then
    notes[#notes + 1] = ("%s cut short inside a header (snap length)"):format(count(r.truncated_packets, "packet"))
  end
  if r.packets > 0 and r.ip_packets == 0 then
    local family = ({ v4 = "IPv4", v6 = "IPv6" })[r.ip] or "IP"
    notes[#notes + 1] = ("no %s packet among %s"):format(family, count(r.packets, "packet"))
  end
  if #r == 0 then
    notes[#notes + 1] = r.packets == 0 and "no interval: no packet was read"
      or ("no interval: the packets span less than one interval of %g s"):format(r.delta_t)
  end
  if #notes == 0 then return nil end
  return "warning: " .. table.concat(notes, "; ")
end

-- A figure failure from tpp.plot (a string or a table) as text.
local function failure_text(f)
  if type(f) ~= "table" then return tostring(f) end
  local what = f.figure and ("figure " .. tostring(f.figure) .. ": ") or ""
  return what .. tostring(f.reason or f.message or f.error or f.err or "failed")
end

function job.run(spec, hooks)
  hooks = hooks or {}
  local message = hooks.message or function() end
  local path = spec.path
  local label = path == "-" and "stdin" or path -- how messages name the capture
  local files = outputs.paths(spec.out, spec.name, spec.format)
  if spec.chunk then files.dump = spec.chunk.dump end -- a chunk of a split capture (tpp.split): its own dump
  local summary = { path = label, name = spec.name, status = "ok", reused = false, packets = 0, intervals = 0,
                    files = {}, figures = 0, problems = 0 }
  local t0 = tpp.now()
  local function finish()
    summary.seconds = tpp.now() - t0
    return summary
  end

  -- A file is parsed under its absolute path, which its dump then records (the dump's `source`); a stream keeps
  -- its name ("-", /dev/fd/63) and is never matched to a dump.
  local source = path
  local attrs
  if not spec.stream then
    local err
    attrs, err = lfs.attributes(path)
    if not attrs then
      summary.status, summary.reason = "failed", tostring(err):match(": ([^:]+)$") or tostring(err)
      return finish()
    end
    source = walk.absolute(path)
  end

  -- An up-to-date dump made from this capture with the same options stands for the parse.  A dump of a newer
  -- format is another tpp's: it is neither reused nor replaced.
  local r
  local keep_dump = false
  local unusable   -- why the dump cannot stand for the parse, for reuse_only
  if not spec.stream and lfs.attributes(files.dump, "mode") == "file" then
    local d, err = tpp.load(files.dump)
    if not d and tostring(err):find("written by a newer tpp", 1, true) then
      keep_dump, unusable = true, err
      if not spec.reuse_only then message(("%s: %s: left as it is (parsing the capture instead)"):format(label, err)) end
    elseif not d then
      unusable = err
      if not spec.reuse_only then message(("%s: not reusing %s (%s)"):format(label, files.dump, err)) end
    elseif not spec.force then
      local fingerprint, ferr = tpp.fingerprint(path)
      local matches, why = false, ferr
      local range = spec.chunk and { spec.parse.range[1], spec.chunk.last and 0 or spec.parse.range[2] }
      if fingerprint then
        matches, why = job.dump_matches(d, spec.parse, { path = source, fingerprint = fingerprint }, range)
      end
      if matches then r, summary.reused = d, true else unusable = ("%s: %s"):format(files.dump, why) end
    end
  end
  if not r and spec.reuse_only then
    summary.status, summary.reason = "failed", "no usable dump (did its task fail?)"
    if unusable then summary.reason = summary.reason .. ": " .. unusable end
    return finish()
  end
  if not r then
    local err
    r, err = tpp.parse(source, spec.parse, hooks.progress, hooks.rows)
    if not r then
      summary.status, summary.reason = "failed", (err:gsub("^" .. source:gsub("%p", "%%%0") .. ": ", ""))
      return finish()
    end
  end
  summary.packets, summary.intervals, summary.first_ns = r.packets, #r, r.first_ns
  local warning = job.warning(r)
  if warning then message(("%s: %s"):format(label, warning)) end
  if not r.complete then summary.status, summary.reason = "incomplete", r.error or "stopped early" end

  if spec.dump_only then -- a piece of a series: its dump is all it writes (the series' outputs come from the merge)
    summary.stopped_by_limit = r.stopped_by_limit
    summary.segments = {} -- { first_ns, last_ns } of each segment: what a limit of the series needs (tpp.series)
    for k = 1, r.segments or 0 do
      local seg = r:segment(k)
      summary.segments[k] = { seg.first_ns, seg.last_ns }
    end
    if summary.reused then
      summary.dump = files.dump
    elseif keep_dump then
      summary.problems = summary.problems + 1
      message(("%s: not dumped: %s is a dump of a newer format, left as it is"):format(label, files.dump))
    else
      local ok, err = r:dump(files.dump)
      if ok then summary.files[#summary.files + 1], summary.dump = files.dump, files.dump
      else summary.problems = summary.problems + 1; message(err) end
    end
    return finish()
  end
  job.write_outputs(r, spec, summary, { message = message, rows = summary.reused and hooks.rows or nil, label = label,
                                        dump = not summary.reused and not keep_dump })
  return finish()
end

-- A label file none of whose anomalies falls within the time span of r's packets is most likely of another day:
-- say so (the label columns are 0 then, as they should be).  `files`: the label files (nil: none).
function job.warn_other_day(r, files, message, label)
  if type(files) ~= "table" or type(files[1]) ~= "string" or r.packets == 0 then return end
  local labels = require "tpp.labels"
  for _, file in ipairs(files) do
    local list = labels.read(file)
    if list and not labels.overlaps(list, r.first_ns, r.last_ns) then
      message(("%s: warning: no anomaly of %s falls within the capture's time span (%s to %s UTC): labels of "
        .. "another day?"):format(label, file, tpp.utc(r.first_ns / 1e9, 0), tpp.utc(r.last_ns / 1e9, 0)))
    end
  end
end

-- Write every output of the result `r` under spec.out, called after spec.name: the critical table (spec.columns
-- of it, in spec.format), its incomplete marker (when summary.status is "incomplete": summary.reason), the port
-- counts, the heavy hitters (with the feature group hh; else a table of an earlier run there is removed), the dump
-- (unless how.dump is false) and spec.figures.  Adds what was written to summary.files (summary.figures: the figure
-- files) and counts what failed in summary.problems, each failure said through how.message as "label: reason".
-- how = { message = function(text), rows = function(tsv lines) or nil (given the rows of the table once it is
-- written, all at once, as for a dump or a merge), label = how messages name the input, dump = boolean }.
-- The main job's captures and series and scripts/merge.lua all write their outputs here.
function job.write_outputs(r, spec, summary, how)
  local message, label = how.message or function() end, how.label or spec.name
  local files = outputs.paths(spec.out, spec.name, spec.format)
  local function record(file, ok, err)
    if ok then
      summary.files[#summary.files + 1] = file
    else
      summary.problems = summary.problems + 1
      message(err)
    end
  end
  if #r > 0 then summary.first_ns, summary.last_ns = r.first_ns, r.last_ns end   -- the run's index shows the span
  -- The dump is written on a thread of its own while the tables are written here (at a fine delta_t both are
  -- hundreds of MB); recorded after them, as before.  Closed (waited for) on the way out of an error too.
  local dumping <close> = how.dump ~= false and r:dump_start(files.dump) or nil
  record(files.critical, r:write_critical(files.critical, spec.format, spec.columns))
  if how.rows then -- the rows of the table just written, all at once, as TSV lines of every column
    local text = r:critical_text()
    how.rows(text:sub((text:find("\n", 1, true) or #text) + 1))
  end
  local incomplete = summary.status == "incomplete" and summary.reason or nil
  local ok, err = outputs.mark_incomplete(files.incomplete, incomplete)
  if incomplete or not ok then record(files.incomplete, ok, err) end
  record(files.port_count, r:write_port_count(files.port_count, spec.format))
  if outputs.has_hh(r) then
    record(files.hh, r:write_heavy_hitters(files.hh, spec.format))
  elseif lfs.attributes(files.hh, "mode") == "file" then -- a table of an earlier run would pass for this one's
    local removed, rerr = os.remove(files.hh)
    if not removed then record(files.hh, nil, rerr) end
  end
  if r.labels_fingerprint then
    record(files.labels, r:write_labels(files.labels, spec.format))
    job.warn_other_day(r, spec.parse and spec.parse.labels, message, label)
  elseif lfs.attributes(files.labels, "mode") == "file" then -- a table of an earlier run would pass for this one's
    local removed, rerr = os.remove(files.labels)
    if not removed then record(files.labels, nil, rerr) end
  end
  if dumping then record(files.dump, dumping:wait()) end

  if #spec.figures > 0 then
    local plot = require "tpp.plot"
    local okp, written, failures = pcall(plot.draw, r, { dir = walk.absolute(files.plot), stem = spec.name, figures = spec.figures,
                                                         jobs = spec.plot_jobs or 1, quiet = true })
    if not okp and tpp.interrupted(written) then error(written, 0) end
    if not okp then
      summary.problems = summary.problems + 1
      message(("%s: figures: %s"):format(label, tostring(written)))
    else
      for _, f in ipairs(written or {}) do summary.files[#summary.files + 1] = f end
      summary.figures = #(written or {})
      for _, f in ipairs(failures or {}) do
        summary.problems = summary.problems + 1
        message(("%s: %s"):format(label, failure_text(f)))
      end
    end
  end
  return summary
end

return job
