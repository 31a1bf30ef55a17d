-- tpp bench/dump_features.lua CAPTURE [KEEP_TABLES] — what each feature group costs in the dump: the capture
-- parsed at dt 10 s with no research feature, each group alone and all of them, dumped; per row the dump's size,
-- its growth over "none", and the stored bytes of the sections that hold the groups' state (TABS: the full
-- tables, HHIT: heavy hitters, NOVL: the addresses seen, FLOW: the flows' head and tail), as Markdown rows.
local tpp = require "tpp"
local capture, keep = arg[1], arg[2] or "edges"
assert(capture, "usage: tpp bench/dump_features.lua CAPTURE [edges|all]")

-- The stored size of each section of the dump at path, and the file's size.
local function sections(path)
  local f = assert(io.open(path, "rb"))
  local bytes = f:read("a")
  f:close()
  local pos, out = 25, {}
  while pos < #bytes - 4 do
    local tag, _, stored, _, at = string.unpack("<c4I4I8I8", bytes, pos)
    out[tag] = (out[tag] or 0) + 24 + stored
    pos = at + stored
  end
  return out, #bytes
end

local function kb(n) return ("%.1f"):format(n / 1024) end

local groups = { "none" }
for _, g in ipairs(tpp.feature_groups) do groups[#groups + 1] = g end
groups[#groups + 1] = "all"

local path, base = os.tmpname(), nil
print(("| features (keep_tables %s) | dump KB | over none KB | COLS KB | TABS KB | HHIT KB | NOVL KB | FLOW KB |")
  :format(keep))
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for _, features in ipairs(groups) do
  local r = assert(tpp.parse(capture, { delta_t = 10, features = features, keep_tables = keep }))
  assert(r:dump(path))
  local s, size = sections(path)
  base = base or size
  print(("| %s | %s | %s | %s | %s | %s | %s | %s |"):format(features, kb(size), kb(size - base), kb(s.COLS or 0),
    kb(s.TABS or 0), kb(s.HHIT or 0), kb(s.NOVL or 0), kb(s.FLOW or 0)))
end
os.remove(path)
