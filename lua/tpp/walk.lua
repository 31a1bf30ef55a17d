-- tpp.walk: find captures under files and directories, and name their outputs.
local lfs = require "lfs"
local core = require "tpp.core"

local walk = {}

-- The kind of capture at `path` by its first bytes (tpp.kind, which knows the magic numbers): "pcap", "pcapng",
-- "gzip", "zstd", "xz", or nil, a reason ("path: ...") and, when the file cannot be read at all, "unreadable".
-- A dump is not a capture: it is named so.
function walk.kind(path)
  local kind, why, unreadable = core.kind(path)
  if kind == "dump" then return nil, path .. ": not a capture (a tpp dump)" end
  return kind, why, unreadable
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

-- `path` as an absolute path without "." and ".." components or repeated slashes, naming the same file as `path`:
-- symbolic links are kept, except one followed by "..", which the system resolves from where the link leads
-- ("a/link/../x" is "b/x" when a/link -> b/sub), so that link is replaced by its target first.
function walk.absolute(path, depth)
  depth = depth or 0
  if path:sub(1, 1) ~= "/" then path = (lfs.currentdir() or ".") .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      local here = "/" .. table.concat(parts, "/")
      local target = #parts > 0 and depth < 40 and lfs.symlinkattributes(here, "mode") == "link"
        and lfs.symlinkattributes(here, "target")
      if target then
        if target:sub(1, 1) ~= "/" then target = here:match("^(.*)/[^/]*$") .. "/" .. target end
        parts = {}
        for p in walk.absolute(target, depth + 1):gmatch("[^/]+") do parts[#parts + 1] = p end
      end
      if #parts > 0 then parts[#parts] = nil end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

local NAMED_ESCAPES = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }

-- Characters a terminal may act on although they are valid UTF-8: the C1 controls (U+009B is a CSI, like ESC [)
-- and the bidirectional overrides that show a name in another order than its bytes.
local function hidden_control(cp)
  return (cp >= 0x80 and cp <= 0x9f) or (cp >= 0x202a and cp <= 0x202e) or (cp >= 0x2066 and cp <= 0x2069)
end

-- `text` (a path, a name, a message) printable on one line: control characters become escapes (\n, \t, \r,
-- \xNN), and so do bytes that are not UTF-8 (\xNN) and the C1 and bidirectional controls (\u{9b}), so that a
-- file name cannot break a line of output or send commands to the terminal.  Other UTF-8 is kept as it is.
function walk.printable(text)
  text = tostring(text)
  if not text:find("[%c\127-\255]") then return text end
  local out, i, n = {}, 1, #text
  while i <= n do
    local c = text:byte(i)
    if c < 0x80 then
      local ch = text:sub(i, i)
      out[#out + 1] = (c < 0x20 or c == 0x7f) and (NAMED_ESCAPES[ch] or ("\\x%02x"):format(c)) or ch
      i = i + 1
    elseif utf8.len(text, i, i) then
      local cp, after = utf8.codepoint(text, i), utf8.offset(text, 2, i)
      out[#out + 1] = hidden_control(cp) and ("\\u{%x}"):format(cp) or text:sub(i, after - 1)
      i = after
    else
      out[#out + 1] = ("\\x%02x"):format(c)
      i = i + 1
    end
  end
  return table.concat(out)
end

-- Is `path` a stream (standard input "-", a FIFO such as bash's <(...)): read once, in order, with no
-- size, no fingerprint and no dump to reuse?
function walk.is_stream(path)
  if path == "-" then return true end
  local mode = lfs.attributes(path, "mode")
  return mode == "named pipe"   -- a socket cannot be opened as a file at all (ENXIO): not a stream for tpp
end

-- Why lfs.attributes failed on `path`, in the system's words ("Too many levels of symbolic links" ->
-- "too many levels of symbolic links"); a dangling symbolic link is called so.
local function stat_failure(path, err)
  if lfs.symlinkattributes(path, "mode") == "link" and not tostring(err):find("levels of symbolic") then
    return "dangling symbolic link (its target does not exist)"
  end
  local reason = tostring(err):match(": ([^:]+)$") or tostring(err)
  return reason:sub(1, 1):lower() .. reason:sub(2)
end

-- Every capture under `paths`: files as given, directories recursively in name order.  Returns a list of paths
-- and a list of {path, reason, missing, stream} for what was skipped (missing: the path does not exist, cannot be
-- examined or read, or is neither a file nor a directory; stream: a FIFO inside a directory, which must not be
-- opened; the reason is a whole message starting with the path).
--   * Files and directories are identified by device and inode: a file reached twice (named twice, named and
--     inside a named directory, through a symbolic or a hard link) is listed once, where it was first reached;
--     a directory is walked once, and a symbolic link back to a directory being walked is one "loop" line.
--   * Inside directories, hidden entries (".name") are skipped, and so are the directories in opts.skip (a list of
--     paths: the main job's own output folders).  What is named explicitly is always taken.
--   * Streams ("-" for standard input, FIFOs) are listed without being read (see walk.is_stream), when named;
--     one found inside a directory is skipped (nobody may be writing to it).
function walk.captures(paths, opts)
  opts = opts or {}
  local found, skipped, seen, skip_dirs = {}, {}, {}, {}
  for _, dir in ipairs(opts.skip or {}) do
    local a = lfs.attributes(dir)
    if a and a.mode == "directory" then skip_dirs[a.dev .. ":" .. a.ino] = true end
  end
  local walking = {}   -- directories on the current path: id -> their path
  local function missing(path, reason)
    skipped[#skipped + 1] = { path = path, missing = true, reason = path .. ": " .. reason }
  end
  local function visit(path, named)
    if path == "-" then
      -- standard input is also /dev/stdin, /dev/fd/0: one stream, read once whatever it is called
      local a = lfs.attributes("/dev/stdin")
      local id = a and (a.dev .. ":" .. a.ino) or "-"
      if not seen["-"] and not seen[id] then found[#found + 1] = path end
      seen["-"], seen[id] = true, true
      return
    end
    local a, err = lfs.attributes(path)
    if not a then return missing(path, stat_failure(path, err)) end
    local id = a.dev .. ":" .. a.ino
    if a.mode == "directory" then
      if walking[id] then
        skipped[#skipped + 1] = { path = path, loop = true,
                                  reason = ("%s: a symbolic link loop (it leads back to %s): not followed"):format(path, walking[id]) }
        return
      end
      if seen[id] or (not named and skip_dirs[id]) then return end
      seen[id] = true
      local names = {}
      local ok, iter, state = pcall(lfs.dir, path)
      if not ok then return missing(path, stat_failure(path, iter)) end
      for name in iter, state do
        if name:sub(1, 1) ~= "." then names[#names + 1] = name end
      end
      table.sort(names)
      walking[id] = path
      for _, name in ipairs(names) do visit(path:gsub("/+$", "") .. "/" .. name, false) end
      walking[id] = nil
    elseif a.mode == "file" or a.mode == "named pipe" then
      if seen[id] then return end
      seen[id] = true
      if a.mode ~= "file" then
        -- a stream: reading it would consume it, and one nobody writes to (a stale FIFO) would block forever
        if named then found[#found + 1] = path; return end
        local why = ("%s: a %s inside a directory, not read (name it to read it)"):format(path, a.mode)
        skipped[#skipped + 1] = { path = path, stream = true, reason = why }
        return
      end
      local kind, why, unreadable = walk.kind(path)
      if kind then
        found[#found + 1] = path
      elseif unreadable then   -- it may well be a capture: a failure, not a file to skip
        skipped[#skipped + 1] = { path = path, missing = true, unreadable = true, reason = why }
      else
        skipped[#skipped + 1] = { path = path, reason = why }
      end
    else
      missing(path, "not a regular file (" .. a.mode .. ")")
    end
  end
  for _, p in ipairs(paths) do visit(p, true) end
  return found, skipped
end

-- 32-bit FNV-1a of a string, as 8 hex digits.
local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s do h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff end
  return ("%08x"):format(h)
end

-- The longest name an output file adds to a capture's name ("_critical.ndjson.incomplete", --format ndjson), and
-- NAME_MAX.
local LONGEST_SUFFIX, NAME_MAX = #"_critical.ndjson.incomplete", 255

-- The name a capture's outputs start from: its stem; "stdin" for "-"; "fdN" for /dev/fd/N (bash's <(...)).
local function base_name(path)
  if path == "-" then return "stdin" end
  local fd = path:match("^/dev/fd/(%d+)$") or path:match("^/proc/self/fd/(%d+)$")
  if fd then return fd == "0" and "stdin" or ("fd" .. fd) end
  return walk.stem(path)
end

-- `name` cut so that every output file name stays within NAME_MAX bytes, the cut marked by a hash of the whole
-- name (never inside a UTF-8 character).  walk.fit_name: the same for names of dumps and results (tpp.plot).
local function fit(name)
  if #name + LONGEST_SUFFIX + 9 <= NAME_MAX then return name end   -- 9: room for a same-stem "-" and hash
  local keep = NAME_MAX - LONGEST_SUFFIX - 18
  while keep > 0 and (name:byte(keep + 1) or 0) & 0xc0 == 0x80 do keep = keep - 1 end
  return name:sub(1, keep) .. "-" .. fnv1a(name)
end

walk.fit_name = fit

-- The names the outputs of `captures` (a list of paths) are called after, in the same order: the stem
-- (walk.stem; "stdin" for "-") when no other capture of the list has the same one; otherwise, for each of those
-- sharing a stem, the stem, "-" and 8 hex digits of the FNV-1a hash of the capture's absolute path
-- (walk.absolute), e.g. "a/x.pcap" and "b/x.pcap.gz" -> "x-1c2f08b4", "x-9e3d6a10".  The same list always gives
-- the same names.  A stem too long for the output file names is cut and marked by a hash of the whole stem.
function walk.names(captures)
  local count, names = {}, {}
  for i, path in ipairs(captures) do
    names[i] = fit(base_name(path))
    count[names[i]] = (count[names[i]] or 0) + 1
  end
  for i, path in ipairs(captures) do
    if count[names[i]] > 1 then names[i] = names[i] .. "-" .. fnv1a(path == "-" and "-" or walk.absolute(path)) end
  end
  return names
end

return walk
