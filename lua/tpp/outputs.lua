-- tpp.outputs: where the main job's files go and how its own text files are written (atomically).
--
--   DIR/mem_dump/<name>.tpd                     the dump (r:dump)
--   DIR/critical/<name>_critical.tsv            per-interval features (r:write_critical)
--   DIR/critical/<name>_critical.tsv.incomplete the reason, when the capture broke part-way (else absent)
--   DIR/port_count/<name>_port_count.tsv        distinct ports per series over the trace, and their total
--   DIR/plot/                                   figures (tpp.plot)
local lfs = require "lfs"
local tpp = require "tpp"

local outputs = {}

outputs.SERIES = tpp.series

-- The output paths of the capture named `name` under the output root `out`.
function outputs.paths(out, name)
  out = out:gsub("/+$", "")
  if out == "" then out = "/" end
  local function at(sub, file) return (out == "/" and "" or out) .. "/" .. sub .. (file and ("/" .. file) or "") end
  return {
    dump = at("mem_dump", name .. ".tpd"),
    critical = at("critical", name .. "_critical.tsv"),
    incomplete = at("critical", name .. "_critical.tsv.incomplete"),
    port_count = at("port_count", name .. "_port_count.tsv"),
    plot = at("plot"),
  }
end

-- The first output path of the capture named `name` that is the same file as one of `inputs` (compared by device
-- and inode, so links and other spellings count), and that input; nil when there is none.  Outputs replace their
-- targets, and an input must never be replaced.
function outputs.collision(out, name, inputs)
  local ids = {}
  for _, path in ipairs(inputs) do
    local a = lfs.attributes(path)
    if a then ids[a.dev .. ":" .. a.ino] = path end
  end
  local p = outputs.paths(out, name)
  for _, key in ipairs { "dump", "critical", "incomplete", "port_count" } do
    local a = lfs.attributes(p[key])
    if a and ids[a.dev .. ":" .. a.ino] then return p[key], ids[a.dev .. ":" .. a.ino] end
  end
  return nil
end

-- The system's reason from an lfs message ("cannot obtain information from file 'x': Not a directory" ->
-- "not a directory").
local function reason(err)
  local text = tostring(err):match(": ([^:]+)$") or tostring(err)
  return text:sub(1, 1):lower() .. text:sub(2)
end

local ENOENT = 2

-- mkdir -p: returns true or nil, "dir: reason" (the reason in the system's words: "not a directory", "too many
-- levels of symbolic links", "read-only file system", "permission denied").  The directories it creates are
-- appended to the list `created` when one is given.
function outputs.mkdir(dir, created)
  local sofar = dir:sub(1, 1) == "/" and "/" or ""
  for part in dir:gmatch("[^/]+") do
    sofar = sofar .. part
    local a, err, code = lfs.attributes(sofar)
    if not a then
      if code ~= ENOENT then return nil, sofar .. ": " .. reason(err) end
      if lfs.symlinkattributes(sofar, "mode") == "link" then
        return nil, sofar .. ": dangling symbolic link (its target does not exist)"
      end
      local ok, merr = lfs.mkdir(sofar)
      -- another process may have created it in the meantime
      if not ok and lfs.attributes(sofar, "mode") ~= "directory" then
        return nil, sofar .. ": cannot create: " .. reason(merr)
      end
      if ok and created then created[#created + 1] = sofar end
    elseif a.mode ~= "directory" then
      return nil, sofar .. ": not a directory"
    end
    sofar = sofar .. "/"
  end
  return true
end

-- Create the output directories under `out` (plot/ only when `with_plot`).  true and the list of directories it
-- created (for outputs.remove_empty), or nil, message.
function outputs.prepare(out, with_plot)
  local p, created = outputs.paths(out, "x"), {}
  for _, dir in ipairs { p.dump, p.critical, p.port_count } do
    local ok, err = outputs.mkdir(dir:match("^(.*)/[^/]*$"), created)
    if not ok then return nil, err end
  end
  if with_plot then
    local ok, err = outputs.mkdir(p.plot, created)
    if not ok then return nil, err end
  end
  return true, created
end

-- Remove the directories of `created` (outputs.prepare's list) that nothing was written to, deepest first: a run
-- that wrote nothing (every capture failed, Ctrl-C before the first output) leaves no empty folders behind.
function outputs.remove_empty(created)
  for i = #(created or {}), 1, -1 do lfs.rmdir(created[i]) end   -- fails, as it should, on a directory in use
end

-- Write `text` to `path` atomically, as tpp's other outputs are (tpp.write_atomic: an unnamed temporary file in
-- the target's directory, renamed over the target when complete; nothing is left behind on failure, even when the
-- process is killed).  Returns true or nil, "path: reason".
function outputs.write_atomic(path, text)
  return tpp.write_atomic(path, text)
end

-- The port-count table of a result: a header (series, distinct_ports), one row per series with the number of
-- distinct ports it used over the whole trace, and their total.
function outputs.port_count_text(r)
  local lines, total = { "series\tdistinct_ports" }, 0
  for _, series in ipairs(outputs.SERIES) do
    local n = r:distinct_ports(series)
    total = total + n
    lines[#lines + 1] = ("%s\t%d"):format(series, n)
  end
  lines[#lines + 1] = ("total\t%d"):format(total)
  return table.concat(lines, "\n") .. "\n"
end

-- Write the incomplete-marker beside a critical table (reason = why reading stopped), or remove a stale one
-- (reason = nil).  true or nil, message.
function outputs.mark_incomplete(path, reason)
  if reason then return outputs.write_atomic(path, reason .. "\n") end
  if lfs.attributes(path, "mode") then
    local ok, err = os.remove(path)
    if not ok then return nil, err end
  end
  return true
end

return outputs
