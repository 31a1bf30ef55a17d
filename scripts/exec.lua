-- tpp scripts/exec.lua [options] [PATH ...] — the main job: for every capture under PATH (default data/), parse it
-- (or reuse its up-to-date dump) and write under -o DIR: mem_dump/<name>.tpd, critical/<name>_critical.tsv,
-- port_count/<name>_port_count.tsv, hh/<name>_hh.tsv (with the feature group hh) and the figures in plot/.  `--help` lists the options; README.md, "The main
-- job", describes the outputs, the naming of same-stem captures and the exit status.  With --series NAME the
-- captures are pieces of one series: each is parsed (or reused) and dumped, and the other outputs are written once,
-- for NAME, from their merge (run_series).  A run ends with plot/index.html, every capture and its status.
-- A run can be split into tasks (README.md, "Shards"): --shard I/N processes one share of the captures (tpp.shard)
-- under the whole run's names, --finish then takes their dumps and writes what needs them all (the series merge,
-- the figures, the index, the summary); --list prints the work items and does nothing else.
local lfs = require "lfs"
local tpp = require "tpp"
local cli = require "tpp.cli"
local job = require "tpp.job"
local outputs = require "tpp.outputs"
local progress = require "tpp.progress"
local shard = require "tpp.shard"
local walk = require "tpp.walk"
local workers = require "tpp.workers"

local settings, err, usage = cli.resolve(arg)
if not settings then
  -- argparse puts its suggestion on a line of its own; anything else from the command line stays on this one
  err = tostring(err):gsub("\nDid you mean", "; did you mean")
  io.stderr:write("tpp: ", walk.printable(err), "\n", usage and (cli.parser():get_usage() .. "\n") or "")
  os.exit(2)
end

-- No PATH given (the default, data/) and no ./data here: the sample beside the scripts, so that the job runs from
-- any directory — the checkout's data/, or PREFIX/share/tpp/data after `make install`.
if settings.paths == cli.DEFAULTS.paths and not lfs.attributes("data") then
  local scripts = (arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local root = scripts:match("^(.*)/[^/]+$")
  if not root or scripts:match("/%.%.?$") or scripts == ".." then root = scripts .. "/.." end
  local sample = root .. "/data"
  if lfs.attributes(sample, "mode") == "directory" then settings.paths = { sample } end
end

local display = progress.new { quiet = settings.quiet }
local t0 = tpp.now()
local failures = 0
local totals = { chunks = 0, captures = 0, failed = 0, incomplete = 0, reused = 0, skipped = 0, missing = 0, unreadable = 0,
                 packets = 0, intervals = 0, files = 0 }

local function fail(text)
  display:message(text)
  failures = failures + 1
end

-- --print-critical: each interval's row on stdout as soon as it closes, the first column naming the capture.
local header_printed = false
local function print_rows(name, text)
  if not header_printed then
    io.stdout:write("capture\t", table.concat(tpp.column_names(), "\t"), "\n")
    header_printed = true
  end
  name = walk.printable(name)
  for line in text:gmatch("[^\n]+") do io.stdout:write(name, "\t", line, "\n") end
  io.stdout:flush()
end

local count = job.count -- "1 packet", "2 packets"

-- What one capture came to.
local function report(summary)
  totals.captures = totals.captures + 1
  totals.packets = totals.packets + (summary.packets or 0)
  totals.intervals = totals.intervals + (summary.intervals or 0)
  totals.files = totals.files + #(summary.files or {})
  if summary.reused then totals.reused = totals.reused + 1 end
  if summary.status == "failed" then
    totals.failed = totals.failed + 1
    fail(("%s: %s"):format(summary.path, summary.reason))
    return
  end
  if summary.status == "incomplete" then
    totals.incomplete = totals.incomplete + 1
    if settings.series then -- a piece of a series: the series' outputs say it (run_series)
      display:message(("%s: incomplete: %s (the series holds its intervals up to there)")
        :format(summary.path, summary.reason))
    else
      fail(("%s: incomplete: %s (its outputs hold the intervals up to there; marked by %s)")
        :format(summary.path, summary.reason, outputs.paths(settings.out, summary.name, settings.format).incomplete))
    end
  end
  if (summary.problems or 0) > 0 then failures = failures + 1 end
  display:info(("%s -> %s: %s, %s (%s)%s%s, %.2f s"):format(summary.path, summary.name,
    count(summary.intervals, "interval"), count(summary.packets, "packet"),
    summary.chunks and ("merged from %d chunks"):format(summary.chunks) or summary.reused and "from its dump" or "parsed",
    (summary.figures or 0) > 0 and (", " .. count(summary.figures, "figure file")) or "",
    summary.problems > 0 and (", %s failed"):format(count(summary.problems, "output")) or "", summary.seconds or 0))
end

-- What one chunk of a split capture came to (its capture is reported once its chunks are merged: finish_split).
local function report_chunk(spec, summary)
  totals.files = totals.files + #(summary.files or {})
  totals.chunks = totals.chunks + 1
  if settings.shard then totals.packets = totals.packets + (summary.packets or 0) end -- else its capture counts them
  if summary.status == "failed" then
    fail(("%s, chunk %d/%d: %s"):format(summary.path, spec.chunk.k, spec.chunk.n, summary.reason))
    return
  end
  if (summary.problems or 0) > 0 then failures = failures + 1 end
  display:info(("%s, chunk %d/%d -> %s: %s (%s)%s, %.2f s"):format(summary.path, spec.chunk.k, spec.chunk.n,
    spec.chunk.dump, count(summary.packets, "packet"), summary.reused and "from its dump" or "parsed",
    summary.status == "incomplete" and (", incomplete: " .. tostring(summary.reason)) or "", summary.seconds or 0))
end

local created_dirs = {}   -- the output folders this run created: removed at the end when still empty
local plan_splits, chunk_spec, finish_split -- (below: --split)

-- What the run's index (plot/index.html) lists: each capture processed, { path, summary }, and the series.
local index_rows, series_row = {}, nil

-- Run the jobs of `specs` (tpp.job specs): streams (stdin, FIFOs), and everything without `parallel`, here in
-- the parent, which holds the streams; the other files in worker processes, -j at a time.  Each summary is
-- reported, and passed to on_done(i, summary) when given.
local function process(specs, parallel, on_done)
  local handlers = {
    start = function(i)
      local path = specs[i].path
      display:start(i, path == "-" and "stdin" or path, not specs[i].stream and lfs.attributes(path, "size") or 0)
    end,
    progress = function(i, bytes, size, packets) display:update(i, bytes, size, packets) end,
    message = function(_, text) display:message(text) end,
    rows = function(i, text) print_rows(specs[i].name, text) end,
    done = function(i, summary)
      display:finish(i)
      if specs[i].chunk and not on_done then report_chunk(specs[i], summary) return end
      report(summary)
      index_rows[#index_rows + 1] = { path = specs[i].path, summary = summary }
      if on_done then on_done(i, summary) end
    end,
  }
  local in_parent, to_workers = {}, {}
  for i, spec in ipairs(specs) do
    if spec.stream or not parallel then in_parent[#in_parent + 1] = i else to_workers[#to_workers + 1] = i end
  end
  for _, i in ipairs(in_parent) do
    local spec = specs[i]
    handlers.start(i)
    local summary = job.run(spec, {
      progress = function(bytes, size, packets) handlers.progress(i, bytes, size, packets) end,
      message = function(text) handlers.message(i, text) end,
      rows = spec.rows and function(text) handlers.rows(i, text) end or nil,
    })
    handlers.done(i, summary)
  end
  if #to_workers > 0 then
    local sub, sub_handlers = {}, {}
    for k, i in ipairs(to_workers) do sub[k] = specs[i] end
    for key, f in pairs(handlers) do sub_handlers[key] = function(k, ...) return f(to_workers[k], ...) end end
    workers.run(sub, settings.jobs, sub_handlers)
  end
end

-- --series NAME: every capture is a piece of one series.  Each is parsed once (or its dump reused) and dumped,
-- in parallel as usual; then their dumps are merged in time order (tpp.stitch, tpp.merger) and the outputs
-- written once, for NAME.  With --max-packets or --max-intervals the limit is the series': the captures are
-- ordered by their first packet and parsed one after the other, each with what is left of the limit, until it
-- is spent.
local function run_series(captures, names, figures)
  local stitch = require "tpp.stitch"
  local name = settings.series
  local label = "series " .. name
  for i, path in ipairs(captures) do
    if names[i] == name then
      fail(("%s: the capture %s is also called %s: give the series another name"):format(label, path, name))
      return
    end
  end
  local output, input = outputs.collision(settings.out, name, captures, settings.format)
  if output then
    fail(("%s: not merged: its output %s is the input %s, which tpp never replaces"):format(label, output, input))
    return
  end
  local specs = {}
  for i, path in ipairs(captures) do
    specs[i] = { path = path, name = names[i], out = settings.out, parse = settings.parse, figures = {},
                 force = settings.force, stream = walk.is_stream(path), dump_only = true,
                 reuse_only = settings.finish }
  end

  local budget = stitch.budget(settings.parse)
  local pieces, problems = {}, {}   -- problems: "capture: reason" of what the series lacks
  local function collect(spec, summary)
    if summary.status == "failed" then
      problems[#problems + 1] = ("%s: %s"):format(summary.path, summary.reason)
    elseif not summary.dump then
      problems[#problems + 1] = ("%s: its dump could not be written"):format(summary.path)
    elseif (summary.packets or 0) == 0 then
      display:info(("%s: no packet: nothing to add to %s"):format(summary.path, label))
    else
      if summary.status == "incomplete" then
        problems[#problems + 1] = ("%s: incomplete: %s"):format(summary.path, summary.reason)
      end
      pieces[#pieces + 1] = { dump = summary.dump, label = spec.path == "-" and "stdin" or spec.path,
                              first_ns = summary.first_ns }
    end
  end
  if not budget.limited then
    process(specs, settings.jobs > 1 and #specs > 1, function(i, summary) collect(specs[i], summary) end)
    if settings.shard then return end   -- the pieces' dumps are the shard's part: --finish merges them
  else
    -- the limit is the series': its captures in the order of their first packets, each given what is left
    for i, spec in ipairs(specs) do
      if spec.stream then
        fail(("%s: %s is a stream, which cannot be put in time order before it is read: with --max-packets or "
          .. "--max-intervals, a series takes files only"):format(label, spec.path == "-" and "standard input" or spec.path))
        return
      end
      local first, err = stitch.first_packet(spec.path, settings.parse.filter)
      if first == nil then
        totals.captures, totals.failed = totals.captures + 1, totals.failed + 1
        fail(err)
        problems[#problems + 1] = err
        specs[i] = false
      else
        spec.first_ns = first or nil
      end
    end
    local ordered = {}
    for _, spec in ipairs(specs) do if spec then ordered[#ordered + 1] = spec end end
    stitch.order(ordered)
    for _, spec in ipairs(ordered) do
      if budget:spent() then
        display:info(("%s: not read: the limit of %s was reached"):format(spec.path, label))
      else
        spec.parse = budget:opts()
        process({ spec }, false, function(_, summary)
          budget:add(summary)
          collect(spec, summary)
        end)
      end
    end
  end
  local function not_written(reason)
    fail(("%s: not written: %s"):format(label, reason))
    series_row = { name = name, pieces = #pieces, summary = { status = "failed", reason = reason, files = {} } }
  end
  if #pieces == 0 then
    not_written("no capture of it has a packet to merge")
    return
  end

  local t0 = tpp.now()
  stitch.order(pieces)
  local r, err = stitch.merge(pieces)
  if not r then
    if tostring(err):find("keep_tables", 1, true) and not tostring(err):find("--keep-tables", 1, true) then
      err = err .. " (--keep-tables all)"
    end
    not_written(("%s; the dumps of its captures are kept"):format(err))
    return
  end
  local summary = { path = label, name = name, status = "ok", reused = false, files = {}, figures = 0,
                    problems = 0, packets = r.packets, intervals = #r }
  if #problems > 0 then
    summary.status, summary.reason = "incomplete", table.concat(problems, "; ")
  elseif r.complete == false then
    summary.status, summary.reason = "incomplete", r.error or "stopped early"
  end
  local warning = job.warning(r)
  if warning then display:message(("%s: %s"):format(label, warning)) end
  job.write_outputs(r, { out = settings.out, name = name, figures = figures, plot_jobs = settings.jobs,
                         format = settings.format, columns = settings.columns,
                         parse = settings.parse }, summary, {
    message = function(text) display:message(text) end, label = label,
    rows = settings.print_critical and function(text) print_rows(name, text) end or nil })
  totals.files = totals.files + #summary.files
  series_row = { name = name, pieces = #pieces, summary = summary }
  if summary.status == "incomplete" then
    fail(("%s: incomplete: %s (marked by %s)"):format(label, summary.reason,
      outputs.paths(settings.out, name, settings.format).incomplete))
  end
  if summary.problems > 0 then failures = failures + 1 end
  display:info(("%s -> %s: %s of %s, %s, %s, merged in %.2f s%s"):format(label, name,
    count(r.segments or 1, "segment"), count(#pieces, "capture"), count(#r, "interval"), count(r.packets, "packet"),
    tpp.now() - t0, summary.problems > 0 and (", %s failed"):format(count(summary.problems, "output")) or ""))
end

-- The run's index, plot/index.html (outputs.index_html), from what was processed: written by a run on one machine
-- and by --finish, not by a shard; not when every capture failed (a run that wrote nothing leaves nothing).
local function write_index(out)
  local any = false
  for _, r in ipairs(index_rows) do any = any or r.summary.status ~= "failed" end
  if not any then return end
  local index = outputs.index_path(out)
  local function row(name, path, summary)
    local failed = summary.status == "failed"
    local page = false
    for _, f in ipairs(summary.files or {}) do
      if f:sub(-#(name .. ".html") - 1) == "/" .. name .. ".html" then page = true end
    end
    return { name = name, path = path == "-" and "-" or walk.absolute(path), status = summary.status,
             reason = summary.reason, packets = not failed and summary.packets or nil,
             intervals = not failed and summary.intervals or nil, page = page,
             first_ns = not failed and summary.last_ns and summary.first_ns or nil,
             last_ns = not failed and summary.first_ns and summary.last_ns or nil }
  end
  local rows = {}
  for _, r in ipairs(index_rows) do
    if r.summary.name == "index" then   -- its own page is plot/index.html
      display:info(("%s: not written: the page of the capture %s has its name"):format(index, r.path))
      return
    end
    rows[#rows + 1] = row(r.summary.name, r.path, r.summary)
  end
  local series
  if series_row then
    if series_row.name == "index" then
      display:info(("%s: not written: the page of the series has its name"):format(index))
      return
    end
    series = row(series_row.name, "-", series_row.summary)
    series.path, series.pieces = nil, series_row.pieces
  end
  local ok, err = outputs.write_atomic(index, outputs.index_html(rows, series))
  if ok then totals.files = totals.files + 1 else fail(err) end
end

-- --split K, --split-size SIZE: the captures to cut into chunks (tpp.split), each chunk a work item of its own in
-- place of its capture's, dealt into shards like the others.  Returns chunks by capture path; items gain
-- item.capture (the capture's index) and, for a chunk, item.chunk = { k, n, from, to, prev_ns, index }.
plan_splits = function(captures, names, items)
  local chunks_of = {}
  for i, item in ipairs(items) do item.capture = i end
  if not settings.split and not settings.split_size then return chunks_of end
  local split = require "tpp.split"
  local expanded = {}
  for i, item in ipairs(items) do
    local path = captures[i]
    local n = walk.is_stream(path) and 1 or split.count(item.size, settings)
    local chunks, why
    if n > 1 then chunks, why = split.plan(path, names[i], settings.out, settings.parse, n) end
    if why then display:info(("%s: parsed whole: %s"):format(path, why)) end
    if chunks then
      chunks_of[path] = chunks
      for k, c in ipairs(chunks) do
        c.k, c.n = k, #chunks
        expanded[#expanded + 1] = { path = path, name = item.name, size = c.to - c.from, capture = i, chunk = c }
      end
    else
      expanded[#expanded + 1] = item
    end
  end
  for k = #items, 1, -1 do items[k] = nil end
  for k, item in ipairs(expanded) do items[k] = item end
  return chunks_of
end

-- The tpp.job spec of a chunk item: parse the chunk, write its dump (only).
chunk_spec = function(item)
  local split = require "tpp.split"
  local c = item.chunk
  return { path = item.path, name = item.name, out = settings.out, parse = split.chunk_options(settings.parse, c),
           figures = {}, force = settings.force, dump_only = true,
           chunk = { k = c.k, n = c.n, last = c.k == c.n, dump = split.chunk_dump(settings.out, item.name, c.k, c.n) } }
end

-- A split capture from its chunks' dumps: merged (exactly the single pass), then written as any capture is.
finish_split = function(path, name, n, figures)
  local split = require "tpp.split"
  local t0 = tpp.now()
  local summary = { path = path, name = name, status = "ok", reused = false, files = {}, figures = 0, problems = 0,
                    packets = 0, intervals = 0, chunks = n }
  local r, err = split.merge(walk.absolute(path), name, settings.out, n)
  if not r and not settings.finish then -- the chunks cannot make the capture exactly (its clock steps back, say)
    display:message(("%s: parsed whole: %s"):format(path, err))
    local whole = job.run({ path = path, name = name, out = settings.out, parse = settings.parse, figures = figures,
                            force = true, plot_jobs = settings.jobs },
                          { message = function(text) display:message(text) end })
    report(whole)
    index_rows[#index_rows + 1] = { path = path, summary = whole }
    return
  end
  if not r then
    summary.status, summary.reason = "failed", err .. " (run it without --split)"
  else
    summary.packets, summary.intervals = r.packets, #r
    if not r.complete then summary.status, summary.reason = "incomplete", r.error or "stopped early" end
    local warning = job.warning(r)
    if warning then display:message(("%s: %s"):format(path, warning)) end
    job.write_outputs(r, { out = settings.out, name = name, figures = figures, plot_jobs = settings.jobs,
                         format = settings.format, columns = settings.columns,
                         parse = settings.parse }, summary, {
      message = function(text) display:message(text) end, label = path, dump = true,
      rows = settings.print_critical and function(text) print_rows(name, text) end or nil })
  end
  summary.seconds = tpp.now() - t0
  report(summary)
  index_rows[#index_rows + 1] = { path = path, summary = summary }
end

local function run()
  -- The output root's own folders hold tpp's outputs, never its inputs: a walk of the root skips them.
  local captures, skipped = walk.captures(settings.paths, { skip = outputs.own_dirs(settings.out) })
  for _, s in ipairs(skipped) do
    if s.loop then
      display:info(s.reason)
    elseif s.missing then
      local key = s.unreadable and "unreadable" or "missing"
      totals[key] = totals[key] + 1
      fail(s.reason)
    else
      totals.skipped = totals.skipped + 1
      display:info("skipping " .. s.reason)
    end
  end
  if #captures == 0 then
    -- after a line saying why (a path missing or unreadable), this one would say nothing more
    if failures == 0 then fail("no captures found in " .. table.concat(settings.paths, ", ")) end
    return
  end

  -- Every capture is named and dealt as in the whole run, whatever share of it this task takes.
  local names = walk.names(captures)
  local items = shard.items(captures, names)
  local chunks_of = plan_splits(captures, names, items)
  local nshards = settings.shards or (settings.shard and settings.shard.count) or 1
  shard.assign(items, nshards)
  if settings.list then
    io.stdout:write(shard.list_text(items))
    return
  end
  if settings.shard or settings.finish then
    for _, path in ipairs(captures) do
      if walk.is_stream(path) then
        -- read once by one process, it has no dump for --finish to take: a usage error, before any work
        io.stderr:write(("tpp: %s: a stream cannot be processed in shards (it is read once, and never has a dump "
          .. "to reuse): give files\n"):format(path == "-" and "standard input" or walk.printable(path)))
        os.exit(2)
      end
    end
  end
  local all = captures
  local my_chunks = {}   -- the chunks this task parses: { capture index, chunk } (all of them but in a shard)
  for _, item in ipairs(items) do
    if item.chunk and not settings.finish and (not settings.shard or item.shard == settings.shard.index) then
      my_chunks[#my_chunks + 1] = item
    end
  end
  if settings.shard then
    local mine, my_names = {}, {}
    for _, item in ipairs(items) do
      if item.shard == settings.shard.index and not item.chunk then
        mine[#mine + 1], my_names[#mine + 1] = captures[item.capture], names[item.capture]
      end
    end
    if #mine == 0 and #my_chunks == 0 then
      display:info(("shard %d/%d: no capture (the %s went to the other shards)"):format(settings.shard.index,
        settings.shard.count, count(#captures, "capture")))
      return
    end
    captures, names = mine, my_names
  end

  local figures = settings.figures
  if #figures > 0 and not require("tpp.gnuplot").find() then   -- one line per run, not one per figure
    fail("figures not drawn: " .. require("tpp.gnuplot").MISSING)
    figures = {}
  end
  -- plot/ for the figures, and for the index a run ends with (not a shard's part); the shard of a series writes
  -- dumps only
  local ok, perr = outputs.prepare(settings.out, #figures > 0 and not (settings.shard and settings.series)
    or not settings.shard, settings.shard and settings.series, settings.parse.labels ~= nil)
  if not ok then
    fail(perr)
    return
  end
  created_dirs = perr

  for i, path in ipairs(captures) do
    local output, input = outputs.collision(settings.out, names[i], all, settings.format)
    if output then
      fail(("%s: not processed: its output %s is the input %s, which tpp never replaces"):format(path, output, input))
      captures[i] = false
    end
  end
  local kept, kept_names = {}, {}
  for i, path in ipairs(captures) do
    if path then kept[#kept + 1], kept_names[#kept + 1] = path, names[i] end
  end
  captures, names = kept, kept_names
  if settings.series then
    run_series(captures, names, figures)
  else
    local whole = {}   -- the captures parsed whole; the split ones come together from their chunks
    for i, path in ipairs(captures) do
      if not chunks_of[path] then whole[#whole + 1] = i end
    end
    local parallel = settings.jobs > 1 and #whole + #my_chunks > 1
    local specs = {}
    for _, i in ipairs(whole) do
      local path = captures[i]
      specs[#specs + 1] = { path = path, name = names[i], out = settings.out, parse = settings.parse,
                   figures = figures, force = settings.force, rows = settings.print_critical,
                   stream = walk.is_stream(path), reuse_only = settings.finish,
                   format = settings.format, columns = settings.columns,
                   plot_jobs = parallel and math.max(1, settings.jobs // math.min(settings.jobs, #whole + #my_chunks))
                     or settings.jobs }
    end
    for _, item in ipairs(my_chunks) do specs[#specs + 1] = chunk_spec(item) end
    process(specs, parallel)
    if not settings.shard then
      for i, path in ipairs(captures) do
        if chunks_of[path] then finish_split(path, names[i], #chunks_of[path], figures) end
      end
    end
  end
  if not settings.shard then write_index(settings.out) end
end

-- An interrupt (tpp.INTERRUPTED) goes on to the host, which prints "tpp: interrupted" and exits with 130.
local ok, trace = xpcall(run, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
-- A shard leaves the folders it created: another shard, running at the same time, may be about to write there.
if not settings.shard then outputs.remove_empty(created_dirs) end
display:close()
if not ok then error(trace, 0) end
if settings.list then os.exit(failures > 0 and 1 or 0) end

if not settings.quiet then
  local notes = {}
  for _, k in ipairs { "failed", "incomplete", "skipped", "missing", "unreadable" } do
    if totals[k] > 0 then notes[#notes + 1] = ("%d %s"):format(totals[k], k) end
  end
  if totals.reused > 0 then
    notes[#notes + 1] = totals.reused == 1 and "1 from its dump" or ("%d from their dumps"):format(totals.reused)
  end
  io.stderr:write(("tpp: %s%s%s, %s, %s, %.2f s, %s written\n"):format(
    settings.shard and ("shard %d/%d: "):format(settings.shard.index, settings.shard.count) or "",
    count(totals.captures, "capture") .. (totals.chunks > 0 and (", " .. count(totals.chunks, "chunk")) or ""),
    #notes > 0 and (" (" .. table.concat(notes, ", ") .. ")") or "",
    count(totals.packets, "packet"), count(totals.intervals, "interval"), tpp.now() - t0, count(totals.files, "file")))
end
os.exit(failures > 0 and 1 or 0)
