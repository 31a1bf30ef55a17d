-- tpp.walk: find captures under files and directories, and name their outputs.
local lfs = require "lfs"

local walk = {}

-- Magic numbers of the formats tpp reads (first four bytes).
local MAGIC = {
  ["\xd4\xc3\xb2\xa1"] = "pcap", ["\xa1\xb2\xc3\xd4"] = "pcap",      -- microsecond, either byte order
  ["\x4d\x3c\xb2\xa1"] = "pcap", ["\xa1\xb2\x3c\x4d"] = "pcap",      -- nanosecond
  ["\x0a\x0d\x0d\x0a"] = "pcapng",
}

-- Compressed files: those tpp decompresses while reading, and those it names so the user can (first bytes).
local COMPRESSED = {
  { "\x1f\x8b", "gzip" }, { "\x28\xb5\x2f\xfd", "zstd" }, { "\xfd7zXZ\0", "xz" },
  { "BZh", "bzip2", false }, { "\x04\x22\x4d\x18", "lz4", false }, { "LZIP", "lzip", false },
  { "\x1f\x9d", "compress (.Z)", false }, { "\x89LZO\0", "lzop", false }, { "7z\xbc\xaf\x27\x1c", "7-Zip", false },
  { "PK\x03\x04", "zip", false },
}

-- The kind of capture at `path` by its first bytes: "pcap", "pcapng", "gzip", "zstd", "xz", or nil and a reason.
function walk.kind(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(6) or ""
  f:close()
  for _, c in ipairs(COMPRESSED) do
    if head:sub(1, #c[1]) == c[1] and (c[2] ~= "bzip2" or head:find("^BZh[1-9]")) then
      if c[3] == false then return nil, path .. ": " .. c[2] .. "-compressed: decompress it first" end
      return c[2]
    end
  end
  if MAGIC[head:sub(1, 4)] then return MAGIC[head:sub(1, 4)] end
  return nil, path .. ": not a capture (unknown magic bytes)"
end

-- The capture's file name without directories and without its capture extensions (.pcap, .pcapng, .cap, .gz,
-- .zst, .xz), as the original tool named its outputs: "x/2023-01.pcap.gz" -> "2023-01".
function walk.stem(path)
  local name = path:match("([^/]+)/*$") or path
  local prev
  repeat
    prev = name
    name = name:gsub("%.gz$", ""):gsub("%.zst$", ""):gsub("%.xz$", ""):gsub("%.pcapng$", ""):gsub("%.pcap$", "")
      :gsub("%.cap$", "")
  until name == prev or name == ""
  return name ~= "" and name or prev
end

-- `path` as an absolute path without "." and ".." components or repeated slashes (symbolic links are kept).
function walk.absolute(path)
  if path:sub(1, 1) ~= "/" then path = (lfs.currentdir() or ".") .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts > 0 then parts[#parts] = nil end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

-- Every regular file under `paths` (files as given, directories recursively in name order); a file reached twice
-- (named twice, or named and inside a named directory) is listed once, where it was first reached.
-- Returns a list of captures and a list of {path, reason, missing} for what was skipped (missing: the path does
-- not exist or is neither a file nor a directory).
function walk.captures(paths)
  local found, skipped, seen = {}, {}, {}
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
      local abs = walk.absolute(path)
      if seen[abs] then return end
      seen[abs] = true
      local kind, why = walk.kind(path)
      if kind then found[#found + 1] = path else skipped[#skipped + 1] = { path = path, reason = why } end
    else
      skipped[#skipped + 1] = { path = path, missing = true,
                                reason = path .. (mode and (": not a regular file (" .. mode .. ")")
                                                  or ": no such file or directory") }
    end
  end
  for _, p in ipairs(paths) do visit(p) end
  return found, skipped
end

-- 32-bit FNV-1a of a string, as 8 hex digits.
local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s do h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff end
  return ("%08x"):format(h)
end

-- The names the outputs of `captures` (a list of paths) are called after, in the same order: the stem
-- (walk.stem) when no other capture of the list has the same one; otherwise, for each of those sharing a stem,
-- the stem, "-" and 8 hex digits of the FNV-1a hash of the capture's absolute path (walk.absolute), e.g.
-- "a/x.pcap" and "b/x.pcap.gz" -> "x-1c2f08b4", "x-9e3d6a10".  The same list always gives the same names.
function walk.names(captures)
  local count, names = {}, {}
  for i, path in ipairs(captures) do
    names[i] = walk.stem(path)
    count[names[i]] = (count[names[i]] or 0) + 1
  end
  for i, path in ipairs(captures) do
    if count[names[i]] > 1 then names[i] = names[i] .. "-" .. fnv1a(walk.absolute(path)) end
  end
  return names
end

return walk
