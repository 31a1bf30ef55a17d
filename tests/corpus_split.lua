-- tests/corpus_split.lua [CORPUS_DIR] — `make test-corpus`: every capture of the corpus that tpp.split_plan cuts
-- (classic pcap with interval boundaries at 100 ms and 10 ms) is parsed whole and chunk by chunk, and the merge of the chunks
-- must be the single pass byte for byte in the critical TSV (the research columns included) and the heavy-hitter
-- table, or be refused (a capture whose clock steps back, a
-- chunk that does not end at a record boundary): never a different result.  Without the corpus it says so.
local tpp = require "tpp"
local lfs = require "lfs"

local dir = arg[1] or os.getenv("TPP_CORPUS") or "../shared/corpus/tcpdump"
if not lfs.attributes(dir, "mode") then
  print("corpus_split: SKIPPED — no corpus at " .. dir)
  os.exit(0)
end

local function tsv(r, path)
  assert(r:write_critical(path))
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  assert(r:write_heavy_hitters(path))
  f = assert(io.open(path, "rb"))
  text = text .. "\n-- heavy hitters --\n" .. f:read("a")
  f:close()
  return text
end

-- A flow_timeout of a few intervals: flows come back after it within the corpus's short captures.
local FLOW_TIMEOUT = 0.25
local tmp = os.tmpname()
local files, planned, equal, refused, differ = 0, 0, 0, 0, {}
local names = {}
for name in lfs.dir(dir) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local path = dir .. "/" .. name
  if lfs.attributes(path, "mode") == "file" then
    files = files + 1
    for _, dt in ipairs { 0.1, 0.01 } do
      local plan = tpp.split_plan(path, { delta_t = dt, chunks = 4 })
      local whole = plan and #plan > 1 and tpp.parse(path, { delta_t = dt, flow_timeout = FLOW_TIMEOUT })
      if whole then
        planned = planned + 1
        local parts = {}
        for k, c in ipairs(plan) do
          parts[k] = tpp.parse(path, { delta_t = dt, range = { c.from, c.to }, prev_ns = c.prev_ns, flow_timeout = FLOW_TIMEOUT })
        end
        local merged = #parts == #plan and tpp.merge(parts)
        if not merged then refused = refused + 1
        elseif tsv(whole, tmp) == tsv(merged, tmp) then equal = equal + 1
        else differ[#differ + 1] = name .. " at " .. dt end
      end
    end
  end
end
os.remove(tmp)
print(("corpus_split: %d files, %d splits into chunks: %d merged to the single pass, %d refused, %d different%s")
  :format(files, planned, equal, refused, #differ, #differ > 0 and (": " .. table.concat(differ, ", ")) or ""))
os.exit(#differ == 0 and 0 or 1)
