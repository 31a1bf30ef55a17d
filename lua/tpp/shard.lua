-- tpp.shard: the main job's work items and how they are dealt into shards, so that N tasks (a Slurm array, GNU
-- parallel, `exec.lua --shard I/N`) each take a share of one run and together do exactly the whole run.
--
--   local shard = require "tpp.shard"
--   local items = shard.items(captures, names)   -- { { path, name, size }, ... } in the order of `captures`
--   shard.assign(items, 4)                        -- sets item.shard (1..4); returns items and each shard's load
--   local i, n = shard.parse("2/4")               -- 2, 4; or nil and what is wrong
--
-- The deal depends on the items alone, not on their order: the same captures give the same shards however the
-- paths were given, in every task.
local lfs = require "lfs"
local walk = require "tpp.walk"

local shard = {}

-- The work items of a run: one per capture, { path = as walked, name = its output name (tpp.walk.names over the
-- whole run), size = bytes on disk (0 for a stream or a file that vanished) }.  `opts` is for later kinds of
-- items; none is used yet (exec.lua adds the chunks of split captures, item.chunk = { k, n, from, to, ... }).
function shard.items(captures, names, opts)
  local items = {}
  for i, path in ipairs(captures) do
    local size = not walk.is_stream(path) and lfs.attributes(path, "size") or 0
    items[i] = { path = path, name = names[i], size = size }
  end
  return items
end

-- Deal `items` into `n` shards, balanced by size: the largest item first onto the least-loaded shard (the
-- lowest-numbered of equals), ties between items of one size broken by output name, then chunk, then absolute
-- path.  Sets item.shard; returns items and the list of each shard's total size.
function shard.assign(items, n)
  if math.type(n) ~= "integer" or n < 1 then error("tpp.shard.assign: n must be a positive integer", 2) end
  local order = {}
  for i, item in ipairs(items) do
    order[i] = { item = item, key = item.path == "-" and "-" or walk.absolute(item.path) }
  end
  table.sort(order, function(a, b)
    local x, y = a.item, b.item
    if x.size ~= y.size then return x.size > y.size end
    if x.name ~= y.name then return x.name < y.name end
    local cx, cy = x.chunk and x.chunk.k or 0, y.chunk and y.chunk.k or 0 -- chunk k of a split capture
    if cx ~= cy then return cx < cy end
    return a.key < b.key
  end)
  local loads = {}
  for k = 1, n do loads[k] = 0 end
  for _, o in ipairs(order) do
    local best = 1
    for k = 2, n do if loads[k] < loads[best] then best = k end end
    o.item.shard = best
    loads[best] = loads[best] + o.item.size
  end
  return items, loads
end

-- "I/N" (shard I of N, 1 <= I <= N) as two integers, or nil and what is wrong with it.
function shard.parse(text)
  local i, n = tostring(text):match("^(%d+)/(%d+)$")
  i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  if not i or not n then
    return nil, "must be I/N, shard I of N shards (1 <= I <= N), e.g. 2/8"
  end
  if n < 1 then return nil, "there must be at least one shard (N >= 1)" end
  if i < 1 or i > n then
    return nil, ("there is no shard %d of %d: shards are numbered from 1 to N"):format(i, n)
  end
  return i, n
end

-- The lines of `exec.lua --list`: a header, then per item its path, output name, size in bytes and shard,
-- tab-separated (path and name printable: a tab or newline in them is escaped, so a line is one item).
function shard.list_text(items)
  local lines = { "capture\tname\tsize\tshard" }
  for _, item in ipairs(items) do
    local name = item.chunk and ("%s (chunk %d/%d)"):format(item.name, item.chunk.k, item.chunk.n) or item.name
    lines[#lines + 1] = ("%s\t%s\t%d\t%d"):format(walk.printable(item.path), walk.printable(name), item.size,
                                                 item.shard or 1)
  end
  return table.concat(lines, "\n") .. "\n"
end

return shard
