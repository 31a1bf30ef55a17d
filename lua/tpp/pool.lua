-- tpp.pool: run child processes (tpp.spawn) at most N at a time, watching them with tpp.poll — the one loop behind
-- the main job's workers and the gnuplot processes that draw figures.
--
--   pool.run(tasks, n, {
--     start  = function(task) return proc end,        -- a tpp.spawn process, or nil when it could not start
--     stdout = function(task, line) end,              -- optional: each line the child writes, as it comes
--     stderr = function(task, line) end,              -- optional
--     done   = function(task, how, code) end,         -- the child ended (proc:wait's results); optional
--     tick   = 0.5,                                   -- seconds between checks when nothing happens
--     grace  = 0,                                     -- on an error: seconds the children get to end by themselves
--   })
--
-- Tasks start in order and finish in any order.  An error raised inside (a handler's, or Ctrl-C's
-- tpp.INTERRUPTED) stops the pool: the running children are given `grace` seconds (SIGINT first, unless the error
-- is the interrupt, which tpp already forwarded to them), then killed and reaped, and the error is raised again.
local tpp = require "tpp"

local pool = {}

local function stop(running, err, grace)
  if grace > 0 and not tpp.interrupted(err) then
    for _, r in ipairs(running) do r.proc:kill(2) end
  end
  local deadline = tpp.now() + grace
  for _, r in ipairs(running) do
    while not r.proc:eof() and tpp.now() < deadline do
      tpp.poll({ r.proc }, 0.05)
      r.proc:read()
    end
    r.proc:kill(9)
    r.proc:wait()
  end
end

function pool.run(tasks, n, h)
  local next_task, running = 1, {}
  local tick, grace = h.tick or 0.5, h.grace or 0
  local ok, err = pcall(function()
    while next_task <= #tasks or #running > 0 do
      while next_task <= #tasks and #running < n do
        local task = tasks[next_task]
        next_task = next_task + 1
        local proc = h.start(task)
        if proc then running[#running + 1] = { proc = proc, task = task } end
      end
      local procs = {}
      for k, r in ipairs(running) do procs[k] = r.proc end
      if #procs > 0 then tpp.poll(procs, tick) end
      for k = #running, 1, -1 do
        local r = running[k]
        local out, errs = r.proc:read()
        if h.stdout then for _, line in ipairs(out) do h.stdout(r.task, line) end end
        if h.stderr then for _, line in ipairs(errs) do h.stderr(r.task, line) end end
        if r.proc:eof() then
          local _, how, code = r.proc:wait()
          table.remove(running, k)
          if h.done then h.done(r.task, how, code) end
        end
      end
    end
  end)
  if not ok then
    stop(running, err, grace)
    error(err, 0)
  end
end

return pool
