-- tpp scripts/merge.lua -o DIR --name NAME DUMP|DIR ...
-- Merges dumps (mem_dump/*.tpd of the main job, or r:dump files; a DIR is walked for them) into one series and
-- writes the main job's outputs for it under DIR, called NAME: mem_dump/NAME.tpd, critical/NAME_critical.tsv,
-- port_count/NAME_port_count.tsv, hh/NAME_hh.tsv (with the feature group hh) and the figures in plot/
-- (tpp.job.write_outputs, as exec.lua).  Each dump is loaded once to learn its first packet's time, then they are
-- merged in that order, one at a time (tpp.stitch, tpp.merger), so memory holds the merged result and one dump.
-- A dump that does not load, or pieces tpp.merge refuses, are reported with the file and the reason and nothing
-- is written.  Exit status: 0 when everything
-- was written, 1 when an input, the merge or an output failed (or a piece was incomplete), 2 on a usage
-- error, 130 when interrupted.
local lfs = require "lfs"
local tpp = require "tpp"
local script_cli = require "tpp.script_cli"
local cli = require "tpp.cli"
local job = require "tpp.job"
local outputs = require "tpp.outputs"
local stitch = require "tpp.stitch"
local walk = require "tpp.walk"

local USAGE = "tpp scripts/merge.lua -o DIR --name NAME DUMP|DIR ..."

-- The options: { names, ARG (nil for a flag), help, default }.  The parser and the help text are made from this.
local OPTIONS = {
  { "-o --out", "DIR", "Output root for mem_dump/, critical/, port_count/, hh/ and plot/.", "." },
  { "--name", "NAME", "The name the outputs are called after (required)." },
  { "-f --figures", "LIST", "Figures to draw: e.g. 1,2,12-18 | all | none.", "all" },
  { "-j --jobs", "N", "gnuplot processes at once (default: the number of cores)." },
  { "-q --quiet", nil, "Only problems on stderr." },
  { "-h --help", nil, "Show this help and exit." },
}

local EPILOG = [[
The dumps are pieces of one series: consecutive captures of a link (a trace cut into files, hourly or daily
captures) or overlapping ones (two directions captured apart), made with the same delta_t, ip, filter and
max_gap (the main job's -t, --ip, --filter, --max-gap).  Overlapping pieces merge only when they were parsed
with --keep-tables all.  A series' gaps longer than max_gap separate its segments (the critical table's
`segment` column), and figures draw each segment apart.  In a DIR, every dump is taken (by its signature; a
*.tpd file that is not one is an error); hidden entries, captures and the output's own mem_dump/NAME.tpd are
passed over.

Exit status: 0 when every output was written, 1 when a dump could not be read, the dumps cannot be merged, an
output could not be written or a piece was incomplete, 2 on a usage error, 130 when interrupted.]]

local parser = script_cli.parser {
  prog = "tpp scripts/merge.lua", usage = USAGE, options = OPTIONS, epilog = EPILOG,
  summary = "Merge dumps into one series and write the main job's outputs for it.",
  argument = { "DUMP|DIR", "Dumps (.tpd), or directories holding them (walked recursively)." },
}

local printable = walk.printable

local function die(msg) script_cli.usage_error("merge", USAGE, msg) end

local ok_args, args = parser:pparse(arg)
if not ok_args then die(args) end
if not args.name then die("--name NAME is required: the outputs are called after it") end
if #args.inputs == 0 then die("no input: name dumps or directories holding them") end
local name, why = cli.check("series", args.name)
if not name then die("option --name " .. why .. ", got '" .. args.name .. "'") end
local out
out, why = cli.check("out", args.out)
if not out then die("option --out " .. why) end
local figures
figures, why = cli.check("figures", args.figures)
if not figures then die(why) end
local jobs = tpp.cpus()
if args.jobs then
  jobs, why = cli.check("jobs", args.jobs)
  if not jobs then die("option --jobs " .. why .. ", got '" .. args.jobs .. "'") end
end

local function say(text) io.stderr:write("merge: ", printable(text), "\n") end
local function info(text) if not args.quiet then say(text) end end

local function id_of(path)
  local a = lfs.attributes(path)
  return a and (a.dev .. ":" .. a.ino)
end

-- The dumps under the inputs, in walk order, or nil after saying what is wrong with an input.  A file named
-- explicitly must be a dump; inside a directory, *.tpd files must be, and the rest is passed over.
local function find_dumps(own_dump)
  local own = id_of(own_dump)
  local named = {}
  for _, p in ipairs(args.inputs) do named[p] = true end
  local captures, skipped = walk.captures(args.inputs)
  local dumps, bad = {}, 0
  for _, path in ipairs(captures) do
    if named[path] then
      say(("%s: a capture, not a tpp dump (the main job, tpp scripts/exec.lua, parses and dumps it)"):format(path))
      bad = bad + 1
    else
      info(("skipping %s: a capture, not a dump"):format(path))
    end
  end
  for _, s in ipairs(skipped) do
    if s.loop then
      info(s.reason)
    elseif s.missing then
      say(s.reason)
      bad = bad + 1
    elseif s.stream then
      info("skipping " .. s.reason)
    elseif own and id_of(s.path) == own then
      info(("skipping %s: it is this merge's own output"):format(s.path))
    elseif tpp.kind(s.path) == "dump" then
      dumps[#dumps + 1] = s.path
    elseif named[s.path] or s.path:find("%.tpd$") then
      local _, err = tpp.load(s.path)   -- says why it is not one: "x.tpd: not a tpp dump (wrong signature)"
      say(err or (s.path .. ": not a tpp dump"))
      bad = bad + 1
    end
  end
  if bad > 0 then return nil end
  if #dumps == 0 then
    say("no dump in " .. table.concat(args.inputs, ", "))
    return nil
  end
  return dumps
end

local function main()
  local files = outputs.paths(out, name)
  local dumps = find_dumps(files.dump)
  if not dumps then return 1 end
  local output, input = outputs.collision(out, name, dumps)
  if output then
    say(("not merged: the output %s is the input %s, which tpp never replaces"):format(output, input))
    return 1
  end

  -- Each dump once, for its first packet's time (and whether it loads at all): nothing is written unless all do.
  local t0 = tpp.now()
  local pieces, bad, incomplete = {}, 0, {}
  for _, path in ipairs(dumps) do
    local d, err = tpp.load(path)
    if not d then
      say(err)
      bad = bad + 1
    elseif d.packets == 0 then
      info(("%s: no packet: nothing to merge"):format(path))
    else
      pieces[#pieces + 1] = { dump = path, label = path, first_ns = d.first_ns }
      if d.complete == false then incomplete[#incomplete + 1] = ("%s: incomplete: %s"):format(path, d.error) end
    end
    d = nil -- luacheck: ignore (dropped before the next load)
    collectgarbage()
  end
  if bad > 0 then
    say(("nothing written: %d of %d dumps could not be read"):format(bad, #dumps))
    return 1
  end
  if #pieces == 0 then
    say("nothing written: no dump holds a packet")
    return 1
  end
  stitch.order(pieces)
  local r, err = stitch.merge(pieces)
  if not r then
    if tostring(err):find("keep_tables", 1, true) then
      err = err .. " (make the dumps again with the main job's --keep-tables all)"
    end
    say("nothing written: " .. err)
    return 1
  end

  if #figures > 0 and not require("tpp.gnuplot").find() then
    say("figures not drawn: " .. require("tpp.gnuplot").MISSING)
    figures = false
  end
  local created
  local ok, perr = outputs.prepare(out, figures and #figures > 0)
  if not ok then
    say(perr)
    return 1
  end
  created = perr
  local summary = { path = name, name = name, status = "ok", reused = false, files = {}, figures = 0, problems = 0 }
  if #incomplete > 0 then
    summary.status, summary.reason = "incomplete", table.concat(incomplete, "; ")
  elseif r.complete == false then
    summary.status, summary.reason = "incomplete", r.error or "stopped early"
  end
  local warning = job.warning(r)
  if warning then say(("%s: %s"):format(name, warning)) end
  local done, werr = pcall(job.write_outputs, r, { out = out, name = name, figures = figures or {}, plot_jobs = jobs },
    summary, { message = say, label = name })
  outputs.remove_empty(created)
  if not done then error(werr, 0) end
  if summary.status == "incomplete" then
    say(("%s: incomplete: %s (marked by %s)"):format(name, summary.reason, files.incomplete))
  end
  info(("%s: %s -> %s, %s, %s, %s written, %.2f s"):format(name, job.count(#pieces, "dump"),
    job.count(r.segments or 1, "segment"), job.count(#r, "interval"), job.count(r.packets, "packet"),
    job.count(#summary.files, "file"), tpp.now() - t0))
  return (summary.problems == 0 and summary.status == "ok" and figures) and 0 or 1
end

-- An interrupt (tpp.INTERRUPTED) goes on to the host, which prints "tpp: interrupted" and exits with 130.
local ok, status = xpcall(main, function(e)
  if tpp.interrupted(e) then return e end
  return debug.traceback(e, 2)
end)
if not ok then error(status, 0) end
os.exit(status)
