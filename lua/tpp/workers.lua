-- tpp.workers: run the main job's captures in parallel, one worker process per capture, at most N at a time.
--
-- Parent:  workers.run(specs, n, handlers)
--   specs:    list of tpp.job specs; each runs in a child `tpp -e "require('tpp.workers').serve(<spec>)"`
--   handlers: start(i), progress(i, bytes, size, packets), message(i, text), rows(i, tsv_lines), done(i, summary)
--             (i: index in specs; rows only for specs with rows = true)
--   Returns when every worker has ended.  A worker that dies without reporting gives a "failed" summary.
-- Child:   workers.serve(spec) runs tpp.job.run and reports on stdout, one line per event:
--   progress <bytes> <size> <packets>  |  message <text as a Lua literal>  |  rows <closed rows, a Lua literal>
--   |  done <summary as a Lua literal>
--
-- Why processes: a Lua state runs one thread, and each tpp.parse already uses two (a reader and the aggregator);
-- separate processes also keep a crash or a leak in one capture from touching the others.
local tpp = require "tpp"
local lfs = require "lfs"
local pool = require "tpp.pool"

local workers = {}

-- A Lua literal on one line for strings, numbers, booleans and tables of them (keys: identifiers or integers).
function workers.encode(v)
  local t = type(v)
  if t == "string" then
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "(0/0)" end
    if v == math.huge or v == -math.huge then return v > 0 and "math.huge" or "-math.huge" end
    return ("%.17g"):format(v)
  elseif t == "boolean" or t == "nil" then
    return tostring(v)
  elseif t == "table" then
    local parts, n = {}, #v
    for i = 1, n do parts[#parts + 1] = workers.encode(v[i]) end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local key = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or ("[" .. workers.encode(k) .. "]")
      parts[#parts + 1] = key .. "=" .. workers.encode(v[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t)
end

-- The value of a literal made by encode (evaluated with nothing in scope but math.huge).
function workers.decode(text)
  local f, err = load("return " .. text, "=worker message", "t", { math = { huge = math.huge } })
  if not f then return nil, err end
  local ok, v = pcall(f)
  if not ok then return nil, v end
  return v
end

-- This program's executable (for starting workers, and the cluster's tasks): /proc/self/exe, else how it was
-- called.
function workers.executable()
  local target = lfs.symlinkattributes("/proc/self/exe", "target")
  if target and lfs.attributes(target, "mode") == "file" then return target end
  local i = 0
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or "tpp"
end

-- Child side: run one job, reporting on stdout; exits the process.
function workers.serve(spec)
  local job = require "tpp.job"
  io.stdout:setvbuf("line")
  local last = -math.huge
  local hooks = {
    progress = function(bytes, size, packets)
      local now = tpp.now()
      if now - last >= 0.1 then
        last = now
        io.stdout:write(("progress %d %d %d\n"):format(bytes, size, packets))
      end
    end,
    message = function(text) io.stdout:write("message ", workers.encode(text), "\n") end,
    rows = spec.rows and function(text) io.stdout:write("rows ", workers.encode(text), "\n") end or nil,
  }
  local ok, summary = pcall(job.run, spec, hooks)
  -- Interrupted: the parent forwarded its Ctrl-C and prints the one line about it; the job has cleaned up.
  if not ok and tpp.interrupted(summary) then os.exit(130, true) end
  if not ok then
    summary = { path = spec.path, name = spec.name, status = "failed", reason = tostring(summary), reused = false,
                packets = 0, intervals = 0, files = {}, problems = 0 }
  end
  io.stdout:write("done ", workers.encode(summary), "\n")
  io.stdout:flush()
  os.exit(ok and 0 or 1)
end

-- Parent side: see the top of the file.
function workers.run(specs, n, handlers)
  local exe = workers.executable()
  local tasks = {}
  for i = 1, #specs do tasks[i] = { i = i, stderr = {} } end

  local function handle(w, line)
    local kind, rest = line:match("^(%a+) (.*)$")
    if kind == "progress" then
      local b, s, p = rest:match("^(%d+) (%d+) (%d+)$")
      if b then handlers.progress(w.i, tonumber(b), tonumber(s), tonumber(p)) end
    elseif kind == "message" then
      handlers.message(w.i, workers.decode(rest) or rest)
    elseif kind == "rows" then
      if handlers.rows then handlers.rows(w.i, workers.decode(rest) or "") end
    elseif kind == "done" then
      w.summary = workers.decode(rest)
    else
      w.stderr[#w.stderr + 1] = line           -- not ours: pass it on as the worker's own output
    end
  end

  local function failed(i, why)
    return { path = specs[i].path, name = specs[i].name, status = "failed", reason = why, files = {}, packets = 0,
             intervals = 0, problems = 0, reused = false }
  end

  -- On an error or Ctrl-C the workers get 0.9 s to clean up and end (tpp forwarded the Ctrl-C to them; a bug's
  -- error sends them SIGINT), then what is left is killed.
  pool.run(tasks, n, {
    start = function(w)
      local code = "require('tpp.workers').serve(" .. workers.encode(specs[w.i]) .. ")"
      local proc, err = tpp.spawn { exe, "-e", code }
      handlers.start(w.i)
      if not proc then handlers.done(w.i, failed(w.i, "cannot start a worker: " .. err)) end
      return proc
    end,
    stdout = handle,
    stderr = function(w, line) w.stderr[#w.stderr + 1] = line end,
    done = function(w, how, code)
      for _, line in ipairs(w.stderr) do handlers.message(w.i, specs[w.i].path .. ": " .. line) end
      local summary = w.summary
      if type(summary) ~= "table" then
        summary = failed(w.i, how == "signal" and ("worker killed by signal " .. code)
          or code == 130 and "worker interrupted"
          or ("worker exited with status " .. tostring(code) .. " without a result"))
      end
      handlers.done(w.i, summary)
    end,
    tick = 0.5,
    grace = 0.9,
  })
end

return workers
