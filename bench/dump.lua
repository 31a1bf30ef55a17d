-- tpp bench/dump.lua CAPTURE.pcap.gz RUNS — dump size against the compressed capture, dump and load times
-- (medians), with the edge intervals' address tables (the default) and with every interval's, as Markdown rows.
local tpp = require "tpp"
local capture, runs = arg[1], math.tointeger(tonumber(arg[2] or "5"))

local median = require("bench.stats").median

local function size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

for _, keep in ipairs { "edges", "all" } do
  local r = assert(tpp.parse(capture, { delta_t = 10, keep_tables = keep }))
  local path = os.tmpname()
  local dump_t, load_t = {}, {}
  for k = 1, runs do
    local t0 = tpp.now()
    assert(r:dump(path))
    dump_t[k] = tpp.now() - t0
    t0 = tpp.now()
    assert(tpp.load(path))
    load_t[k] = tpp.now() - t0
  end
  local dsize, csize = size(path), size(capture)
  os.remove(path)
  print(("| %d intervals, %d packets, keep_tables %s | dump %.1f MB = %.2f %% of the .pcap.gz (%.0f MB) | write %.3f s | "
         .. "load %.3f s |"):format(#r, r.packets, keep, dsize / 1e6, 100 * dsize / csize, csize / 1e6, median(dump_t),
                                    median(load_t)))
end
