-- tpp: the module scripts `require`. It gathers the C core (tpp.core) with the Lua library modules.
local core = require "tpp.core"
local walk = require "tpp.walk"

local tpp = {}
for name, value in pairs(core) do tpp[name] = value end

-- Where the dump of a capture goes by default: OUTDIR/mem_dump/<stem>.tpd (OUTDIR defaults to "."), as the
-- original tool named its dumps.
function tpp.dump_path(capture, outdir)
  return (outdir or ".") .. "/mem_dump/" .. walk.stem(capture) .. ".tpd"
end

return tpp
