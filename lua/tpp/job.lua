-- tpp.job: one capture of the main job — reuse its dump or parse it, then write all its outputs.
--
--   local summary = job.run(spec, hooks)
--
-- spec  = { path = capture, name = output name (tpp.walk.names), out = output root, parse = tpp.parse options,
--           figures = list of figure numbers, force = re-parse even with an up-to-date dump, plot_jobs = N
--           (gnuplot processes at once) }
-- hooks = { progress = function(bytes_read, size, packets) end, message = function(text) end }  (both optional)
-- summary = { path, name, status = "ok" | "incomplete" | "failed", reason (incomplete, failed), reused (boolean),
--             packets, intervals, seconds, files = { paths written }, figures = files written by tpp.plot,
--             problems = number of outputs that failed }
--
-- Messages are "path: what happened" lines for the caller to print.  job.run never raises for a failure of the
-- world (unreadable capture, unwritable output); it does raise for an interrupt (Ctrl-C) or a bug.
local lfs = require "lfs"
local tpp = require "tpp"
local outputs = require "tpp.outputs"
local walk = require "tpp.walk"

local job = {}

local plot_module, plot_reason

-- The figures module (tpp.plot), or nil and why it cannot be used.  Loaded once.
function job.plotter()
  if plot_module == nil and plot_reason == nil then
    local ok, mod = pcall(require, "tpp.plot")
    if not ok and tpp.interrupted(mod) then error(mod, 0) end
    if ok and type(mod) == "table" and type(mod.draw) == "function" then
      plot_module = mod
    else
      plot_module = false
      plot_reason = ok and "tpp.plot has no draw function" or tostring(mod):match("^[^\n]*")
    end
  end
  return plot_module or nil, plot_reason
end

-- Does the dump `d` (a loaded result) describe the capture as it is now (`attrs`: lfs.attributes of it), computed
-- with the options `opts`?  Returns true, or false and why not.
function job.dump_matches(d, attrs, opts)
  if d.source_size ~= attrs.size then return false, "the capture's size changed" end
  -- lfs gives whole seconds; the dump keeps the nanoseconds: the same file has its mtime within that second.
  local mtime = d.source_mtime or -1
  if not (mtime > attrs.modification - 1e-6 and mtime < attrs.modification + 1) then
    return false, "the capture was modified"
  end
  local want_ns = math.floor(opts.delta_t * 1e9 + 0.5)
  local have_ns = d.delta_ns or math.floor(d.delta_t * 1e9 + 0.5)
  if have_ns ~= want_ns then return false, "delta_t differs" end
  if d.boundary ~= (opts.boundary or "aligned") then return false, "boundary differs" end
  if d.ip ~= (opts.ip or "any") then return false, "ip differs" end
  if (d.filter or "") ~= (opts.filter or "") then return false, "filter differs" end
  if d.max_packets ~= (opts.max_packets or 0) then return false, "max_packets differs" end
  if d.max_intervals ~= (opts.max_intervals or 0) then return false, "max_intervals differs" end
  if d.error == "interrupted" then return false, "it was interrupted" end
  return true
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
  local files = outputs.paths(spec.out, spec.name)
  local summary = { path = path, name = spec.name, status = "ok", reused = false, packets = 0, intervals = 0,
                    files = {}, figures = 0, problems = 0 }
  local t0 = tpp.now()
  local function finish()
    summary.seconds = tpp.now() - t0
    return summary
  end

  local attrs = lfs.attributes(path)
  if not attrs then
    summary.status, summary.reason = "failed", "no such file"
    return finish()
  end

  -- An up-to-date dump made with the same options stands for the parse.
  local r
  if not spec.force and tpp.load and lfs.attributes(files.dump, "mode") == "file" then
    local d, err = tpp.load(files.dump)
    if not d then
      message(("%s: not reusing %s (%s)"):format(path, files.dump, err))
    elseif job.dump_matches(d, attrs, spec.parse) then
      r, summary.reused = d, true
    end
  end
  if not r then
    local err
    r, err = tpp.parse(path, spec.parse, hooks.progress, hooks.rows)
    if not r then
      summary.status, summary.reason = "failed", (err:gsub("^" .. path:gsub("%p", "%%%0") .. ": ", ""))
      return finish()
    end
  end
  summary.packets, summary.intervals = r.packets, #r
  if r.warning then message(("%s: %s"):format(path, r.warning)) end
  if not r.complete then summary.status, summary.reason = "incomplete", r.error or "stopped early" end

  local function record(file, ok, err)
    if ok then
      summary.files[#summary.files + 1] = file
    else
      summary.problems = summary.problems + 1
      message(err)
    end
  end
  record(files.critical, r:write_critical(files.critical))
  if summary.reused and hooks.rows then -- a dump's rows, all at once: those of the table just written
    local f = io.open(files.critical)
    if f then
      f:read("l")
      hooks.rows(f:read("a"))
      f:close()
    end
  end
  local incomplete = summary.status == "incomplete" and summary.reason or nil
  local ok, err = outputs.mark_incomplete(files.incomplete, incomplete)
  if incomplete or not ok then record(files.incomplete, ok, err) end
  record(files.port_count, outputs.write_atomic(files.port_count, outputs.port_count_text(r)))
  if not summary.reused and r.dump then record(files.dump, r:dump(files.dump)) end

  if #spec.figures > 0 and job.plotter() then
    local plot = job.plotter()
    local okp, written, failures = pcall(plot.draw, r, { dir = walk.absolute(files.plot), stem = spec.name, figures = spec.figures,
                                                         jobs = spec.plot_jobs or 1, quiet = true })
    if not okp and tpp.interrupted(written) then error(written, 0) end
    if not okp then
      summary.problems = summary.problems + 1
      message(("%s: figures: %s"):format(path, tostring(written)))
    else
      for _, f in ipairs(written or {}) do summary.files[#summary.files + 1] = f end
      summary.figures = #(written or {})
      for _, f in ipairs(failures or {}) do
        summary.problems = summary.problems + 1
        message(("%s: %s"):format(path, failure_text(f)))
      end
    end
  end
  return finish()
end

return job
