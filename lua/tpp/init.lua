-- tpp: the module scripts `require`. It gathers the C core (tpp.core) with the Lua library modules.
local core = require "tpp.core"
local walk = require "tpp.walk"
local column = require "tpp.column"
local result = require "tpp.result"     -- completes the result type: r:slice, r:where, string forms

local tpp = {}
for name, value in pairs(core) do
  if name:sub(1, 1) ~= "_" then tpp[name] = value end   -- core._meta is the Lua modules' business
end

-- Where the dump of a capture goes by default: OUTDIR/mem_dump/<stem>.tpd (OUTDIR defaults to "."), as the
-- original tool named its dumps.
function tpp.dump_path(capture, outdir)
  return (outdir or ".") .. "/mem_dump/" .. walk.stem(capture) .. ".tpd"
end

tpp.open = result.open           -- tpp.open(path [, opts [, progress]]): load a dump or parse a capture
tpp.type = result.type           -- tpp.type(x): "result", "column", "interval", "ports", "heavy_hitters", "writer"
tpp.column = column.new          -- tpp.column(t): the sequence t as a column (its metatable set)
tpp.utc = result.format_utc      -- tpp.utc(t [, fmt]): epoch seconds as UTC text, "2023-01-01 00:00:10.250"

return tpp
