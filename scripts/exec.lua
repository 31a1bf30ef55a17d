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

local settings, err = cli.resolve(arg)
if not settings then
  io.stderr:write("tpp: ", err, "\n", cli.parser():get_usage(), "\n")
  os.exit(2)
end

local display = progress.new { quiet = settings.quiet }
local t0 = tpp.now()
local failures = 0
local totals = { captures = 0, failed = 0, incomplete = 0, reused = 0, skipped = 0, missing = 0, packets = 0,
                 intervals = 0, files = 0 }

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
  for line in text:gmatch("[^\n]+") do io.stdout:write(name, "\t", line, "\n") end
  io.stdout:flush()
end

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
  display:info(("%s -> %s: %d intervals, %d packets (%s)%s%s, %.2f s"):format(summary.path, summary.name,
    summary.intervals, summary.packets, summary.reused and "from its dump" or "parsed",
    (summary.figures or 0) > 0 and (", %d figure files"):format(summary.figures) or "",
    summary.problems > 0 and (", %d output(s) failed"):format(summary.problems) or "", summary.seconds or 0))
end

local function run()
  local captures, skipped = walk.captures(settings.paths)
  for _, s in ipairs(skipped) do
    if s.missing then
      totals.missing = totals.missing + 1
      fail(s.reason)
    else
      totals.skipped = totals.skipped + 1
      display:info("skipping " .. s.reason)
    end
  end
  if #captures == 0 then
    fail("no captures found in " .. table.concat(settings.paths, ", "))
    return
  end

  local figures = settings.figures
  if #figures > 0 then
    local plot, why = job.plotter()
    if not plot then
      display:info("figures skipped: " .. why)
      figures = {}
    end
  end
  local ok, perr = outputs.prepare(settings.out, #figures > 0)
  if not ok then
    fail(perr)
    return
  end

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
                 force = settings.force, rows = settings.print_critical,
                 plot_jobs = parallel and math.max(1, settings.jobs // math.min(settings.jobs, #captures))
                   or settings.jobs }
  end
  local handlers = {
    start = function(i) display:start(i, captures[i], lfs.attributes(captures[i], "size")) end,
    progress = function(i, bytes, size, packets) display:update(i, bytes, size, packets) end,
    message = function(_, text) display:message(text) end,
    rows = function(i, text) print_rows(names[i], text) end,
    done = function(i, summary)
      display:finish(i)
      report(summary)
    end,
  }
  if parallel then
    workers.run(specs, settings.jobs, handlers)
  else
    for i, spec in ipairs(specs) do
      handlers.start(i)
      local summary = job.run(spec, {
        progress = function(bytes, size, packets) handlers.progress(i, bytes, size, packets) end,
        message = function(text) handlers.message(i, text) end,
        rows = spec.rows and function(text) handlers.rows(i, text) end or nil,
      })
      handlers.done(i, summary)
    end
  end
end

-- An interrupt (tpp.INTERRUPTED) goes on to the host, which prints "tpp: interrupted" and exits with 130.
local ok, trace = xpcall(run, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
display:close()
if not ok then error(trace, 0) end

if not settings.quiet then
  local notes = {}
  for _, k in ipairs { "failed", "incomplete", "skipped", "missing" } do
    if totals[k] > 0 then notes[#notes + 1] = ("%d %s"):format(totals[k], k) end
  end
  if totals.reused > 0 then notes[#notes + 1] = ("%d from dumps"):format(totals.reused) end
  io.stderr:write(("tpp: %d capture%s%s, %d packets, %d intervals, %.2f s, %d files written\n"):format(
    totals.captures, totals.captures == 1 and "" or "s", #notes > 0 and (" (" .. table.concat(notes, ", ") .. ")") or "",
    totals.packets, totals.intervals, tpp.now() - t0, totals.files))
end
os.exit(failures > 0 and 1 or 0)
