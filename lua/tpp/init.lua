-- tpp: the module scripts `require`. It gathers the C core (tpp.core) with the Lua library modules.
local core = require "tpp.core"

local tpp = {}
for name, value in pairs(core) do tpp[name] = value end

return tpp
