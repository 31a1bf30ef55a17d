-- tpp.split: one large capture of the main job as chunks (--split K, --split-size BYTES): their plan, where their
-- dumps go, and the capture's result put back together from them.  The C core does the cutting (tpp.split_plan,
-- tpp.gzindex, tpp.parse's range and prev_ns); see docs/lua-api.md, "Splitting one capture".
--
--   local split = require "tpp.split"
--   local n = split.count(size, opts)                     -- chunks wanted for a capture of `size` bytes (1: none)
--   local chunks, err = split.plan(path, name, out, parse_opts, n)   -- { { from, to, prev_ns, index }, ... }
--   local r, err = split.merge(path, name, out, parse_opts, #chunks) -- the capture's result from its chunk dumps
local tpp = require "tpp"
local outputs = require "tpp.outputs"

local split = {}

-- A gzip capture's checkpoint index, and chunk k of n's dump: beside the capture's own dump.
function split.index_path(out, name)
  return (outputs.paths(out, name).dump:gsub("%.tpd$", ".tpx"))
end

function split.chunk_dump(out, name, k, n)
  return (outputs.paths(out, name).dump:gsub("%.tpd$", (".chunk%dof%d.tpd"):format(k, n)))
end

-- Why the parse options rule out splitting, or nil: a chunk is one part of a single pass, and only the aligned
-- mode on the epoch grid, without a filter or limits, computes a chunk's rows without the packets before it.
function split.unsplittable(opts)
  if (opts.boundary or "aligned") == "packet" then
    return "the packet boundary mode (--compat) starts each interval at a packet, so its intervals depend on every "
      .. "packet before them"
  end
  if (opts.anchor or "epoch") == "first" then return "--anchor first puts the grid at the capture's first packet" end
  if opts.filter then return "a filter makes the inter-arrival time of a chunk's first packet unknown" end
  if (opts.max_packets or 0) > 0 or (opts.max_intervals or 0) > 0 then
    return "--max-packets and --max-intervals count from the capture's start"
  end
end

-- Chunks wanted for a capture of `size` bytes: opts.split (K) for every capture, or one per opts.split_size bytes
-- for the captures larger than that; 1 for none.
function split.count(size, opts)
  local n = opts.split or 1
  if opts.split_size and size > opts.split_size then n = math.max(n, math.ceil(size / opts.split_size)) end
  return math.min(n, 4096)
end

-- The chunks of the capture at `path`: a list of { from, to, prev_ns, index }, or nil and why it is not split (a
-- kind that cannot be, or too few interval boundaries: one chunk).  A gzip capture's index is built once, next
-- to its dump, and reused while it is of the capture as it is.
function split.plan(path, name, out, opts, n)
  local kind = tpp.kind(path)
  local index
  if kind == "gzip" then
    index = split.index_path(out, name)
    local lfs = require "lfs"
    local dir = index:match("^(.*)/[^/]*$")
    if dir and not lfs.attributes(dir) then -- the index is made before the run's folders: make its own
      local parent = dir:match("^(.*)/[^/]*$")
      if parent and parent ~= "" and not lfs.attributes(parent) then lfs.mkdir(parent) end
      lfs.mkdir(dir)
    end
    local chunks = tpp.split_plan(path, { delta_t = opts.delta_t, chunks = n, index = index })
    if not chunks then -- no index yet, or one of another file: make it
      local ok, err = tpp.gzindex(path, index)
      if not ok then return nil, err end
    end
  elseif kind ~= "pcap" then
    return nil, ("%s: a %s capture cannot be split (only classic pcap, plain or gzip)"):format(path, kind or "?")
  end
  local chunks, err = tpp.split_plan(path, { delta_t = opts.delta_t, chunks = n, index = index })
  if not chunks then return nil, err end
  if #chunks < 2 then return nil, ("%s: too few interval boundaries to split"):format(path) end
  for _, c in ipairs(chunks) do c.index = index end
  return chunks
end

-- The parse options of chunk c.
function split.chunk_options(opts, c)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.range, o.prev_ns, o.index = { c.from, c.to }, c.prev_ns, c.index
  return o
end

-- The capture's result from the dumps of its n chunks (loaded one at a time), or nil and why (a chunk dump
-- missing or of something else, chunks that do not join).
function split.merge(path, name, out, n)
  local m = tpp.merger()
  for k = 1, n do
    local file = split.chunk_dump(out, name, k, n)
    local d, err = tpp.load(file)
    if not d then return nil, err end
    local ok, why = m:add(d)
    d = nil -- luacheck: ignore (collected before the next chunk is loaded)
    collectgarbage()
    if not ok then return nil, ("%s: %s"):format(file, why) end
  end
  local r, err = m:result()
  if not r then return nil, err end
  if r.pieces ~= 1 or r.source ~= path then
    return nil, ("%s: its %d chunk dumps do not make the whole capture"):format(path, n)
  end
  return r
end

return split
