-- tpp.stitch: the pieces of one series (captures or dumps) put back together — their time order, the limits of a
-- whole series, and the streaming merge of their dumps.  The main job's --series and scripts/merge.lua use it.
--
--   local stitch = require "tpp.stitch"
--   local ns = stitch.first_packet(path, filter)   -- the first packet's time (integer ns), false when there is
--                                                   -- none, or nil, "path: reason"
--   stitch.order(pieces)                           -- sorts { first_ns = ..., ... } by first_ns, ties kept in order
--   local budget = stitch.budget(parse_opts)       -- the series' max_packets and max_intervals, spent piece by piece
--   local r, err = stitch.merge(pieces)            -- pieces { dump = path, label = name } in time order
--
-- Memory: stitch.merge holds the merged result and one piece at a time (tpp.merger); each dump is collected
-- before the next is loaded, since a result's C memory is not what Lua's collector counts.
local tpp = require "tpp"

local stitch = {}

-- The time of the first packet of the capture at `path` (after `filter`), read with tpp.packets: integer ns,
-- false when there is no packet, or nil and "path: reason".
function stitch.first_packet(path, filter)
  local ok, first = pcall(function()
    for p in tpp.packets(path, { max_packets = 1, filter = filter }) do return p.ts_ns end
    return false
  end)
  if ok then return first end
  if tpp.interrupted(first) then error(first, 0) end
  return nil, tostring(first)
end

-- Sort `pieces` (tables with first_ns) by first_ns; pieces without one go last; ties keep their order.
function stitch.order(pieces)
  for i, p in ipairs(pieces) do p.order_ = i end
  table.sort(pieces, function(a, b)
    local x, y = a.first_ns or math.maxinteger, b.first_ns or math.maxinteger
    if x ~= y then return x < y end
    return a.order_ < b.order_
  end)
  for _, p in ipairs(pieces) do p.order_ = nil end
  return pieces
end

local function ns(seconds) return math.floor(seconds * 1e9 + 0.5) end

-- A run of more empty intervals than this ends a segment whatever max_gap says: C's TPP_MAX_EMPTY_RUN
-- (include/tpp/result.h, tpp_gap_ends_segment), which the count of a budget must follow.
stitch.MAX_EMPTY_RUN = 100000

-- The limits of a series (opts.max_packets, opts.max_intervals; 0 = none) as its pieces are parsed one after
-- the other in time order:
--   budget.limited       whether there is a limit at all
--   budget:opts()        the parse options of the next piece: max_packets is what the series has left
--                        (max_intervals stays the series' own: no piece needs more, and tpp.merge cuts the
--                        merged result to it)
--   budget:add(summary)  a piece was parsed: summary.packets, summary.segments = { { first_ns, last_ns }... },
--                        summary.stopped_by_limit (a piece that stopped at the limit ends the series: tpp.merge
--                        takes nothing after it, and its intervals reach the limit)
--   budget:spent()       true when no later piece can add to the series: the packets are used up, or the
--                        series already has a packet past its max_intervals-th interval (a later piece, which
--                        starts after the packets before it, cannot touch those intervals then; while the last
--                        packet is inside that interval, the next piece may still add to it)
-- The interval count is a lower bound of the merged result's (the segments of each piece, joined across gaps of
-- at most max_gap as tpp.merge joins them; a piece that fills a gap of an earlier one is not counted), so a
-- series is never cut short by it: at worst a piece more is parsed, and tpp.merge's own cut decides.
function stitch.budget(opts)
  local b = {
    packets_left = opts.max_packets or 0, max_intervals = opts.max_intervals or 0, count = 0,
    dns = ns(opts.delta_t or 10), gap_ns = ns(opts.max_gap or 3600), first_anchor = opts.anchor == "first",
  }
  b.limited = b.packets_left > 0 or b.max_intervals > 0
  local limit_packets = b.packets_left > 0

  function b.opts(_)
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    if limit_packets then o.max_packets = b.packets_left end
    return o
  end

  function b.add(_, summary)
    if limit_packets then b.packets_left = math.max(0, b.packets_left - (summary.packets or 0)) end
    if summary.stopped_by_limit then b.stopped = true end
    for _, seg in ipairs(summary.segments or {}) do
      b.base = b.base or (b.first_anchor and seg[1] or 0)
      local first, last = (seg[1] - b.base) // b.dns, (seg[2] - b.base) // b.dns
      if not b.last then
        b.count = last - first + 1
      elseif first <= b.last then
        if last > b.last then b.count = b.count + last - b.last end
      else
        local empty = first - b.last - 1
        local ends = empty > stitch.MAX_EMPTY_RUN or empty > b.gap_ns // b.dns   -- tpp_gap_ends_segment
        b.count = b.count + (ends and 0 or empty) + last - first + 1
      end
      if not b.last or last > b.last then b.last = last end
    end
  end

  function b.spent(_)
    return b.stopped or (limit_packets and b.packets_left <= 0) or (b.max_intervals > 0 and b.count > b.max_intervals)
  end
  return b
end

-- "a, b and c"; a long list as its first two, how many more and its last.
local function names(list)
  if #list <= 4 then
    if #list == 1 then return list[1] end
    return table.concat(list, ", ", 1, #list - 1) .. " and " .. list[#list]
  end
  return ("%s, %s, %d more and %s"):format(list[1], list[2], #list - 3, list[#list])
end
stitch.names = names

-- Merge the dumps of `pieces` ({ dump = path, label = how messages name it }, in time order: stitch.order) with
-- tpp.merger, loading one at a time.  Returns the merged result, or nil, a message and the piece it is about:
-- "DUMP: reason" for a dump that does not load, "cannot merge LABEL with LABELS before it: reason" when
-- tpp.merger refuses it.
function stitch.merge(pieces)
  local m = tpp.merger()
  local before = {}
  for _, p in ipairs(pieces) do
    local d, err = tpp.load(p.dump)
    if not d then return nil, err, p end
    local ok, why = m:add(d)
    d = nil -- luacheck: ignore (dropped before the next load, for the collector below)
    collectgarbage()
    if not ok then
      if #before == 0 then return nil, ("cannot merge %s: %s"):format(p.label, tostring(why)), p end
      return nil, ("cannot merge %s with %s before it: %s"):format(p.label, names(before), tostring(why)), p
    end
    before[#before + 1] = p.label
  end
  return m:result()
end

return stitch
