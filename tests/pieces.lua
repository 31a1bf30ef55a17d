-- tests/pieces.lua — cut a capture into pieces, as a capture split by time or by direction would come, for the
-- merge and segment specs.
--
--   local pieces = require "tests.pieces"
--   local paths = assert(pieces.cut("tests/data/parity/afs.pcap", dir, { 100, 250 }))   -- 3 pieces
--   local cuts = pieces.random_cuts(601, 5, 42)                                          -- 4 cuts, 5 pieces
--   local cap = assert(pieces.load(path))          -- read once, then cut many ways: pieces.cut(cap, dir, cuts)
--   local a, b = assert(pieces.split(path, dir, function(p) return p.src == "10.0.0.1" end))
--   local whole = assert(pieces.union({ a, b }, dir .. "/whole.pcap"))                   -- the packets of both
--
-- The pieces are written with tpp.pcap_writer, in pcap with nanosecond timestamps (the writer's microsecond pcap
-- would drop the nanoseconds of a nanosecond capture), with the source's link type and a snap length that keeps
-- every record whole.  tpp.packets yields the decoded packet but not its bytes, so the records are read here from
-- the pcap file (classic pcap, either byte order, micro- or nanosecond) and checked, packet by packet, against what
-- tpp.packets says of the same file (time, caplen, wirelen): the reader cannot silently disagree with tpp.
--
-- Two tiers of errors as in tpp: a file that cannot be read or is not an uncompressed pcap gives nil, "path:
-- reason"; bad cuts or arguments raise.

local tpp = require "tpp"
local walk = require "tpp.walk"

local M = {}

local NS_PER_UNIT = { [0xa1b2c3d4] = 1000, [0xa1b23c4d] = 1 }   -- pcap magic -> nanoseconds per fraction unit

-- The capture at `path`: header { linktype, snaplen }, and its records, each { ts_ns, caplen, wirelen, data,
-- p = the packet as tpp.packets decodes it }; or nil, "path: reason".
function M.read(path)
  local kind, why = tpp.kind(path)
  if kind ~= "pcap" then
    return nil, kind and ("%s: pieces are cut from an uncompressed pcap, not %s"):format(path, kind) or why
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local bytes = f:read("a")
  f:close()
  if #bytes < 24 then return nil, path .. ": shorter than a pcap header" end
  local order
  for _, o in ipairs({ "<", ">" }) do
    if NS_PER_UNIT[string.unpack(o .. "I4", bytes)] then order = o end
  end
  if not order then return nil, path .. ": not a classic pcap (magic)" end
  local magic, snaplen, network = string.unpack(order .. "I4 xxxx xxxx xxxx I4 I4", bytes)
  local unit, head = NS_PER_UNIT[magic], order .. "I4 I4 I4 I4"
  local header = { linktype = network & 0xffff, snaplen = snaplen }
  local records, pos = {}, 25
  while pos + 16 <= #bytes + 1 do
    local sec, frac, caplen, wirelen = string.unpack(head, bytes, pos)
    if pos + 16 + caplen > #bytes + 1 then return nil, ("%s: record %d cut short"):format(path, #records + 1) end
    records[#records + 1] = { ts_ns = sec * 1000000000 + frac * unit, caplen = caplen, wirelen = wirelen,
                              data = bytes:sub(pos + 16, pos + 15 + caplen) }
    pos = pos + 16 + caplen
  end
  if pos ~= #bytes + 1 then return nil, path .. ": trailing bytes after the last record" end
  local i = 0
  for p in tpp.packets(path) do
    i = i + 1
    local r = records[i]
    if not r or r.ts_ns ~= p.ts_ns or r.caplen ~= p.caplen or r.wirelen ~= p.wirelen then
      error(("pieces: %s: packet %d read here differs from tpp.packets"):format(path, i))
    end
    r.p = p
  end
  if i ~= #records then error(("pieces: %s: %d records read here, tpp.packets gives %d"):format(path, #records, i)) end
  return header, records
end

-- The capture read once, to cut it many ways: { path, header, records } (as M.read), or nil, "path: reason".
-- M.cut, M.split, M.directions and M.twice take such a capture or a path.
function M.load(path)
  local header, records = M.read(path)
  if not header then return nil, records end
  return { path = path, header = header, records = records }
end

local function loaded(src)
  if type(src) == "table" then return src end
  return M.load(src)
end

-- Write records[from..to] as a pcap at `path`: true or nil, "path: reason".
local function write(path, header, records, from, to)
  local snaplen = math.max(header.snaplen, 1)
  for i = from, to do snaplen = math.max(snaplen, records[i].caplen) end
  local w, err = tpp.pcap_writer(path, header.linktype, { nanosecond = true, snaplen = snaplen, gzip = false })
  if not w then return nil, err end
  for i = from, to do
    local r = records[i]
    w:write_ns(r.ts_ns, r.data, r.wirelen)
  end
  return w:close()
end

local function piece_path(dir, path, k, what)
  return ("%s/%s-%s%02d.pcap"):format(dir, walk.stem(path), what or "piece", k)
end

-- The capture cut where new pieces start: cuts are 1-based packet indices, ascending, each in 2..n.  Writes
-- dir/<stem>-pieceNN.pcap (#cuts + 1 of them, in time order) and returns their paths, or nil, "path: reason".
-- Each path parsed with opts (a parse that fails raises).
function M.parse_each(paths, opts)
  local rs = {}
  for k, path in ipairs(paths) do rs[k] = assert(tpp.parse(path, opts)) end
  return rs
end

-- tpp.merge of the results; a refusal raises with its reason.
function M.merge(results)
  local m, err = tpp.merge(results)
  if not m then error("tpp.merge refused: " .. tostring(err), 2) end
  return m
end

function M.cut(src, dir, cuts)
  assert(type(cuts) == "table", "pieces.cut: cuts must be a list of packet indices")
  local cap, err = loaded(src)
  if not cap then return nil, err end
  local path, header, records = cap.path, cap.header, cap.records
  local n, bounds = #records, { 1 }
  for k, c in ipairs(cuts) do
    if math.type(c) ~= "integer" or c < 2 or c > n or c <= bounds[#bounds] then
      error(("pieces.cut: cut %d (%s) must be an integer in 2..%d above the one before"):format(k, tostring(c), n), 2)
    end
    bounds[#bounds + 1] = c
  end
  bounds[#bounds + 1] = n + 1
  local paths = {}
  for k = 1, #bounds - 1 do
    paths[k] = piece_path(dir, path, k)
    local ok, werr = write(paths[k], header, records, bounds[k], bounds[k + 1] - 1)
    if not ok then return nil, werr end
  end
  return paths
end

-- A deterministic generator of integers (splitmix64), independent of math.random and of Lua's version.
local function splitmix(seed)
  local state = seed
  return function(n)   -- an integer in 1..n
    state = state + 0x9e3779b97f4a7c15
    local z = state
    z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
    z = (z ~ (z >> 27)) * 0x94d049bb133111eb
    z = z ~ (z >> 31)
    return z % n + 1   -- Lua's % takes the divisor's sign: 0..n-1 for any z
  end
end
M.random = splitmix

-- k - 1 distinct cuts in 2..n, ascending, for k pieces of a capture of n packets: the same for the same seed.
function M.random_cuts(n, k, seed)
  assert(math.type(n) == "integer" and math.type(k) == "integer" and k >= 1 and k <= n,
         "pieces.random_cuts: need 1 <= k <= n (integers)")
  local rand, taken, cuts = splitmix(seed or 1), {}, {}
  while #cuts < k - 1 do
    local c = rand(n - 1) + 1
    if not taken[c] then taken[c], cuts[#cuts + 1] = true, c end
  end
  table.sort(cuts)
  return cuts
end

-- Two pieces that overlap in time: the packets for which pred(p, i) is true (p as tpp.packets gives it, i its
-- 1-based index) and the others, each in capture order.  Returns their paths (dir/<stem>-splitNN.pcap), or nil,
-- "path: reason".  Either may be empty of packets (a capture with a header only).
function M.split(src, dir, pred)
  assert(type(pred) == "function", "pieces.split: pred must be a function(p, i)")
  local cap, err = loaded(src)
  if not cap then return nil, err end
  local path, header, records = cap.path, cap.header, cap.records
  local sides = { {}, {} }
  for i, r in ipairs(records) do
    local side = sides[pred(r.p, i) and 1 or 2]
    side[#side + 1] = r
  end
  local paths = {}
  for k, list in ipairs(sides) do
    paths[k] = piece_path(dir, path, k, "split")
    local ok, werr = write(paths[k], header, list, 1, #list)
    if not ok then return nil, werr end
  end
  return paths[1], paths[2]
end

-- The two directions of a capture as if captured apart: packets whose source address sorts before their
-- destination (and frames without IP) in one piece, the others in the second.
function M.directions(src, dir)
  return M.split(src, dir, function(p) return not p.src or p.src < p.dst end)
end

-- A file given twice: a byte-identical copy of the capture (another path, another inode) beside the pieces.
-- Returns { path, copy } or nil, "path: reason".
function M.twice(src, dir)
  local cap, err = loaded(src)
  if not cap then return nil, err end
  local path, header, records = cap.path, cap.header, cap.records
  local copy = piece_path(dir, path, 2, "copy")
  local ok, werr = write(copy, header, records, 1, #records)
  if not ok then return nil, werr end
  return { path, copy }
end

-- Overlapping pieces of one capture, by `how`: "directions" (the default; M.directions), "twice" (M.twice) or a
-- predicate function(p, i) (M.split).  Returns the list of paths, or nil, "path: reason".
function M.overlapping(src, dir, how)
  how = how or "directions"
  if how == "twice" then return M.twice(src, dir) end
  local a, b
  if how == "directions" then a, b = M.directions(src, dir)
  elseif type(how) == "function" then a, b = M.split(src, dir, how)
  else error("pieces.overlapping: how is \"directions\", \"twice\" or a function(p, i)", 2) end
  if not a then return nil, b end
  return { a, b }
end

-- The packets of all the pieces in one capture at `out`, in time order (a stable merge: equal times keep the
-- order of the pieces given): what a capture of everything the pieces saw would hold.  Returns out, or nil,
-- "path: reason".  The pieces must share a link type.
function M.union(paths, out)
  local all, header = {}, nil
  for k, path in ipairs(paths) do
    local h, records = M.read(path)
    if not h then return nil, records end
    if header and h.linktype ~= header.linktype then
      error(("pieces.union: %s has link type %d, %s %d"):format(path, h.linktype, paths[1], header.linktype), 2)
    end
    header = header or h
    for i, r in ipairs(records) do all[#all + 1] = { r = r, k = k, i = i } end
  end
  table.sort(all, function(x, y)
    if x.r.ts_ns ~= y.r.ts_ns then return x.r.ts_ns < y.r.ts_ns end
    if x.k ~= y.k then return x.k < y.k end
    return x.i < y.i
  end)
  local records = {}
  for j, e in ipairs(all) do records[j] = e.r end
  local ok, err = write(out, header or { linktype = 1, snaplen = 262144 }, records, 1, #records)
  if not ok then return nil, err end
  return out
end

-- The pieces one after the other in one capture at `out`, as given (no reordering): the inverse of M.cut.
-- Returns out, or nil, "path: reason".
function M.concat(paths, out)
  local records, header = {}, nil
  for _, path in ipairs(paths) do
    local h, list = M.read(path)
    if not h then return nil, list end
    header = header or h
    table.move(list, 1, #list, #records + 1, records)
  end
  local ok, err = write(out, header, records, 1, #records)
  if not ok then return nil, err end
  return out
end

return M
