-- tpp scripts/exec.lua [options] [PATH ...] — the main job: for every capture under PATH (default data/), parse it
-- (or reuse its up-to-date dump) and write under -o DIR: mem_dump/<name>.tpd, critical/<name>_critical.tsv,
-- port_count/<name>_port_count.tsv and the figures in plot/.  `--help` lists the options; README.md, "The main
-- job", describes the outputs, the naming of same-stem captures and the exit status.
local lfs = require "lfs"
local tpp = require "tpp"
local cli = require "tpp.cli"
local job = require "tpp.job"
local outputs = require "tpp.outputs"
local progress = require "tpp.progress"
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
local totals = { captures = 0, failed = 0, incomplete = 0, reused = 0, skipped = 0, missing = 0, unreadable = 0,
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
    fail(("%s: incomplete: %s (its outputs hold the intervals up to there; marked by %s)")
      :format(summary.path, summary.reason, outputs.paths(settings.out, summary.name).incomplete))
  end
  if (summary.problems or 0) > 0 then failures = failures + 1 end
  display:info(("%s -> %s: %s, %s (%s)%s%s, %.2f s"):format(summary.path, summary.name,
    count(summary.intervals, "interval"), count(summary.packets, "packet"),
    summary.reused and "from its dump" or "parsed",
    (summary.figures or 0) > 0 and (", " .. count(summary.figures, "figure file")) or "",
    summary.problems > 0 and (", %s failed"):format(count(summary.problems, "output")) or "", summary.seconds or 0))
end

local created_dirs = {}   -- the output folders this run created: removed at the end when still empty

local function run()
  -- The output root's own folders hold tpp's outputs, never its inputs: a walk of the root skips them.
  local own = outputs.paths(settings.out, "x")
  local captures, skipped = walk.captures(settings.paths, {
    skip = { own.dump:match("^(.*)/"), own.critical:match("^(.*)/"), own.port_count:match("^(.*)/"), own.plot } })
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

  local figures = settings.figures
  if #figures > 0 and not require("tpp.gnuplot").find() then   -- one line per run, not one per figure
    fail("figures not drawn: " .. require("tpp.gnuplot").MISSING)
    figures = {}
  end
  local ok, perr = outputs.prepare(settings.out, #figures > 0)
  if not ok then
    fail(perr)
    return
  end
  created_dirs = perr

  local names = walk.names(captures)
  local parallel = settings.jobs > 1 and #captures > 1
  local specs = {}
  for i, path in ipairs(captures) do
    local output, input = outputs.collision(settings.out, names[i], captures)
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
  for i, path in ipairs(captures) do
    specs[i] = { path = path, name = names[i], out = settings.out, parse = settings.parse, figures = figures,
                 force = settings.force, rows = settings.print_critical, stream = walk.is_stream(path),
                 plot_jobs = parallel and math.max(1, settings.jobs // math.min(settings.jobs, #captures))
                   or settings.jobs }
  end
  local handlers = {
    start = function(i)
      display:start(i, captures[i] == "-" and "stdin" or captures[i],
                    not specs[i].stream and lfs.attributes(captures[i], "size") or 0)
    end,
    progress = function(i, bytes, size, packets) display:update(i, bytes, size, packets) end,
    message = function(_, text) display:message(text) end,
    rows = function(i, text) print_rows(names[i], text) end,
    done = function(i, summary)
      display:finish(i)
      report(summary)
    end,
  }
  -- Streams (stdin, FIFOs) are read here, in the parent, which holds them; with -j N the files go to workers.
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

-- An interrupt (tpp.INTERRUPTED) goes on to the host, which prints "tpp: interrupted" and exits with 130.
local ok, trace = xpcall(run, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
outputs.remove_empty(created_dirs)
display:close()
if not ok then error(trace, 0) end

if not settings.quiet then
  local notes = {}
  for _, k in ipairs { "failed", "incomplete", "skipped", "missing", "unreadable" } do
    if totals[k] > 0 then notes[#notes + 1] = ("%d %s"):format(totals[k], k) end
  end
  if totals.reused > 0 then
    notes[#notes + 1] = totals.reused == 1 and "1 from its dump" or ("%d from their dumps"):format(totals.reused)
  end
  io.stderr:write(("tpp: %s%s, %s, %s, %.2f s, %s written\n"):format(
    count(totals.captures, "capture"), #notes > 0 and (" (" .. table.concat(notes, ", ") .. ")") or "",
    count(totals.packets, "packet"), count(totals.intervals, "interval"), tpp.now() - t0, count(totals.files, "file")))
end
os.exit(failures > 0 and 1 or 0)
