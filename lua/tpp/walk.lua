-- tpp.walk: find captures under files and directories, and name their outputs.
local lfs = require "lfs"

local walk = {}

-- Magic numbers of the formats tpp reads (first four bytes).
local MAGIC = {
  ["\xd4\xc3\xb2\xa1"] = "pcap", ["\xa1\xb2\xc3\xd4"] = "pcap",      -- microsecond, either byte order
  ["\x4d\x3c\xb2\xa1"] = "pcap", ["\xa1\xb2\x3c\x4d"] = "pcap",      -- nanosecond
  ["\x0a\x0d\x0d\x0a"] = "pcapng",
}

-- The kind of capture at `path` by its first bytes: "pcap", "pcapng", "gzip", or nil and a reason.
function walk.kind(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(4) or ""
  f:close()
  if head:sub(1, 2) == "\x1f\x8b" then return "gzip" end
  if MAGIC[head] then return MAGIC[head] end
  return nil, path .. ": not a capture (unknown magic bytes)"
end

-- The capture's file name without directories and without its capture extensions (.pcap, .pcapng, .cap, .gz),
-- as the original tool named its outputs: "x/2023-01.pcap.gz" -> "2023-01".
function walk.stem(path)
  local name = path:match("([^/]+)/*$") or path
  local prev
  repeat
    prev = name
    name = name:gsub("%.gz$", ""):gsub("%.pcapng$", ""):gsub("%.pcap$", ""):gsub("%.cap$", "")
  until name == prev or name == ""
  return name ~= "" and name or prev
end

-- Every regular file under `paths` (files as given, directories recursively in name order).
-- Returns a list of captures and a list of {path, reason} for what was skipped.
function walk.captures(paths)
  local found, skipped = {}, {}
  local function visit(path)
    local mode = lfs.attributes(path, "mode")
    if mode == "directory" then
      local names = {}
      for name in lfs.dir(path) do
        if name ~= "." and name ~= ".." then names[#names + 1] = name end
      end
      table.sort(names)
      for _, name in ipairs(names) do visit(path:gsub("/$", "") .. "/" .. name) end
    elseif mode == "file" then
      local kind, why = walk.kind(path)
      if kind then found[#found + 1] = path else skipped[#skipped + 1] = { path = path, reason = why } end
    else
      skipped[#skipped + 1] = { path = path, reason = path .. (mode and (": not a regular file (" .. mode .. ")")
                                                              or ": no such file or directory") }
    end
  end
  for _, p in ipairs(paths) do visit(p) end
  return found, skipped
end

return walk
