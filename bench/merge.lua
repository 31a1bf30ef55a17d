-- tpp bench/merge.lua generate DIR | merge DIR — a year of daily 15-minute traces at delta_t 10 s (MAWI's shape:
-- 365 dumps, 90 intervals each, 32,850 in all).  `generate` writes the traces' dumps into DIR once (synthetic
-- traces of 20,000 packets, one a day at 14:00 UTC); `merge` merges them streaming — each dump's first packet read,
-- then the dumps loaded one at a time in that order into a tpp.merger() — and prints a Markdown table row (run it
-- under /usr/bin/time for the peak memory).
local tpp = require "tpp"
local synth = require "tpp.synth"
local mode, dir = arg[1], arg[2]
local DAYS, START = 365, 1672581600 -- 2023-01-01 14:00 UTC

if mode == "generate" then
  local capture = dir .. "/day.pcap"
  for day = 1, DAYS do
    local dump = ("%s/day%03d.tpd"):format(dir, day)
    local d = tpp.load(dump)
    if not (d and d.mergeable) then -- missing, written by another tpp, or of an older format (not mergeable)
      assert(synth.generate(capture, { packets = 20000, duration = 900, start = START + (day - 1) * 86400, seed = day }))
      local r = assert(tpp.parse(capture, { delta_t = 10 }))
      assert(r:dump(dump))
    end
  end
  os.remove(capture)
  return
end

assert(mode == "merge", "usage: tpp bench/merge.lua generate|merge DIR")
local t0 = tpp.now()
local order = {}
for day = 1, DAYS do
  local path = ("%s/day%03d.tpd"):format(dir, day)
  order[day] = { path = path, first = assert(tpp.load(path)).first_ns }
  collectgarbage()
end
table.sort(order, function(a, b) return a.first < b.first end)
local m = tpp.merger()
for _, piece in ipairs(order) do
  assert(m:add(assert(tpp.load(piece.path))))
  collectgarbage()
end
local r = assert(m:result())
local elapsed = tpp.now() - t0
print(("| %d dumps | %d intervals, %d segments, %d packets | %.2f s |"):format(r.pieces, #r, r.segments, r.packets, elapsed))
