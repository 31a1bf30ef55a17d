-- tests/corpus.lua — the two halves of `make test-corpus` (tests/corpus.sh drives them).
--
--   tpp tests/corpus.lua check FILE
--       Parse FILE in both boundary modes and check what came back (and the TSV, a dump round trip and
--       tpp.packets).  One line per mode on stdout: mode, status (complete, incomplete, rejected), link type,
--       packets, intervals, reason, IP packets, separated by tabs.  A broken promise is a line
--       "FAIL <tab> mode <tab> what" and exit status 1.
--   tpp tests/corpus.lua summary DIR [CORPUS]
--       Read the NAME.out / NAME.err / NAME.rc files corpus.sh left in DIR and print the summary; exit status 1
--       when any file failed (non-zero exit, timeout, anything on stderr such as a sanitizer report or leak).
--
-- What a file must do (issue 7): parse — complete, or incomplete with r.error saying why — or be refused with
-- `nil, "FILE: reason"`; never crash, never make the sanitizers speak (stderr must stay empty), never leak.
local tpp = require "tpp"

local MODES = { "aligned", "packet" }

-- Link type names for the summary: libpcap's DLT_ names from its header when it is installed (tpp reports the
-- DLT number libpcap gives, except raw IP, which it reports as LINKTYPE_RAW 101).
local function linktype_names()
  local names = { [101] = "RAW" }
  local f = io.open("/usr/include/pcap/dlt.h")
  if f then
    for line in f:lines() do
      local name, n = line:match("^#define%s+DLT_([%w_]+)%s+(%d+)")
      if name and not name:find("^MATCHING") and not names[tonumber(n)] then names[tonumber(n)] = name end
    end
    f:close()
  end
  return names
end

-- Numbers in messages (offsets, sizes, seconds) vary per file: the reason without them groups files.
local function reason_of(msg) return (msg:gsub("%-?%d+", "N")) end

local function fail(mode, what)
  io.write("FAIL\t", mode, "\t", (what:gsub("[\t\n]", " ")), "\n")
  io.stdout:flush()
  os.exit(1)
end

-- Everything a result promises about itself.
local function check_result(path, mode, r, tmp)
  if type(r.complete) ~= "boolean" then fail(mode, "r.complete is not a boolean") end
  if r.complete and r.error ~= nil then fail(mode, "complete, yet r.error = " .. tostring(r.error)) end
  if not r.complete and (type(r.error) ~= "string" or r.error == "") then fail(mode, "incomplete without r.error") end
  if #r ~= r.intervals then fail(mode, "#r ~= r.intervals") end
  if r.boundary ~= mode then fail(mode, "r.boundary is " .. tostring(r.boundary)) end
  if r.source ~= path then fail(mode, "r.source is " .. tostring(r.source)) end
  if r.ip_packets + r.non_ip_packets > r.packets then fail(mode, "ip + non-IP packets exceed packets") end
  local packets, starts, ends = r:column("packets"), r:column("start"), r:column("end")
  local ip = r:column("ip_packets")
  local sum = 0
  for i = 1, #r do
    sum = sum + packets[i]
    if ip[i] > packets[i] then fail(mode, "interval " .. i .. " has more IP packets than packets") end
    if i > 1 and starts[i] < starts[i - 1] then fail(mode, "interval " .. i .. " starts before the one before it") end
    if ends[i] < starts[i] then fail(mode, "interval " .. i .. " ends before it starts") end
  end
  -- Aligned: every packet read is in an interval; packet mode drops the trailing partial interval.
  if mode == "aligned" and sum ~= r.packets then fail(mode, ("intervals hold %d of %d packets"):format(sum, r.packets)) end
  if mode == "packet" and sum > r.packets then fail(mode, "intervals hold more packets than were read") end
  for _, series in ipairs { "tcp_src", "tcp_dst", "udp_src", "udp_dst" } do
    local last_i, last_port = 0, -1
    for i, port, count in r:ports(series) do
      if i < last_i or (i == last_i and port <= last_port) or i > #r or count < 1 then
        fail(mode, series .. " histogram out of order at interval " .. i)
      end
      last_i, last_port = i, port
    end
  end
  -- The outputs: the TSV, and a dump that loads back to the same TSV (skipped for huge results: time).
  local tsv, dump, tsv2 = tmp .. ".tsv", tmp .. ".tpd", tmp .. "-loaded.tsv"
  local ok, err = r:write_critical(tsv)
  if not ok then fail(mode, "write_critical: " .. tostring(err)) end
  if #r <= 20000 then
    ok, err = r:dump(dump)
    if not ok then fail(mode, "dump: " .. tostring(err)) end
    local loaded, lerr = tpp.load(dump)
    if not loaded then fail(mode, "load: " .. tostring(lerr)) end
    assert(loaded:write_critical(tsv2))
    local a, b = io.open(tsv, "rb"), io.open(tsv2, "rb")
    if a:read("a") ~= b:read("a") then fail(mode, "the loaded dump writes a different TSV") end
    a:close(); b:close()
    os.remove(dump); os.remove(tsv2)
  end
  os.remove(tsv)
end

local function check(path)
  local tmp = os.tmpname()
  local parsed
  for _, mode in ipairs(MODES) do
    local r, err = tpp.parse(path, { boundary = mode })
    if not r then
      if type(err) ~= "string" or err:sub(1, #path + 2) ~= path .. ": " then
        fail(mode, "refused without naming the file: " .. tostring(err))
      end
      io.write(mode, "\trejected\t-\t0\t0\t", err:sub(#path + 3), "\t0\n")
    else
      check_result(path, mode, r, tmp)
      parsed = parsed or r
      io.write(mode, "\t", r.complete and "complete" or "incomplete", "\t", r.linktype, "\t", r.packets, "\t", #r,
        "\t", r.error or "", "\t", r.ip_packets, "\n")
    end
  end
  os.remove(tmp)
  -- tpp.packets reads the same frames one by one, decoding each into a table.
  if parsed then
    local n = 0
    local ok, err = pcall(function() for _ in tpp.packets(path) do n = n + 1 end end)
    if not ok and not tostring(err):find(path, 1, true) then fail("packets", "error without the file's name: " .. tostring(err)) end
    if ok and parsed.complete and n ~= parsed.packets then
      fail("packets", ("tpp.packets gave %d packets, tpp.parse %d"):format(n, parsed.packets))
    end
    -- the tunnels' decodings (tpp/packet.h): the inner mode and the original's classification see every packet too
    for name, opts in pairs { inner = { encap = "inner" }, compat = { boundary = "packet", ip = "v4" } } do
      local r = tpp.parse(path, opts)
      if r and parsed.complete and (r.packets ~= parsed.packets or r.encapsulated_packets > r.packets) then
        fail(name, ("%d packets, %d encapsulated; the aligned parse had %d"):format(r.packets,
          r.encapsulated_packets, parsed.packets))
      end
      local m, tunnels = 0, 0
      ok, err = pcall(function()
        for p in tpp.packets(path, opts) do m, tunnels = m + 1, tunnels + (p.encapsulated and 1 or 0) end
      end)
      if ok and r and r.complete and (m ~= r.packets or tunnels ~= r.encapsulated_packets) then
        fail(name, ("tpp.packets gave %d packets (%d encapsulated), tpp.parse %d (%d)"):format(m, tunnels,
          r.packets, r.encapsulated_packets))
      end
    end
  end
end

-- The summary ---------------------------------------------------------------------------------------------

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function summary(dir, corpus)
  local names = {}
  for name in assert(io.popen("ls " .. dir)):lines() do
    local base = name:match("^(.*)%.rc$")
    if base then names[#names + 1] = base end
  end
  table.sort(names)
  local counts = { aligned = {}, packet = {} }
  local reasons = { incomplete = {}, rejected = {} }
  local by_link, failures = {}, {}
  for _, name in ipairs(names) do
    local rc = tonumber(read(dir .. "/" .. name .. ".rc"))
    local out = read(dir .. "/" .. name .. ".out") or ""
    local err = read(dir .. "/" .. name .. ".err") or ""
    local seen = {}
    for line in out:gmatch("[^\n]+") do
      local mode, status, link, packets, _, reason, ip = line:match("^(%w+)\t(%w+)\t([^\t]*)\t(%d+)\t(%d+)\t([^\t]*)\t(%d+)$")
      if mode and counts[mode] then
        seen[mode] = true
        counts[mode][status] = (counts[mode][status] or 0) + 1
        if status ~= "complete" then
          local k = reason_of(reason)
          local t = reasons[status][k] or { aligned = 0, packet = 0 }
          reasons[status][k] = t
          t[mode] = t[mode] + 1
        end
        if mode == "aligned" then
          local l = by_link[link] or { files = 0 }
          by_link[link] = l
          l.files = l.files + 1
          l[status] = (l[status] or 0) + 1
          l.packets = (l.packets or 0) + tonumber(packets)
          l.ip = (l.ip or 0) + tonumber(ip)
        end
      end
    end
    local problem
    if rc == 124 then problem = "timed out"
    elseif rc ~= 0 then problem = "exit status " .. tostring(rc)
    elseif err ~= "" then problem = "wrote to stderr"
    elseif not (seen.aligned and seen.packet) then problem = "did not report both modes" end
    if problem then
      failures[#failures + 1] = ("%s: %s\n%s%s"):format(name, problem, out:match("FAIL[^\n]*\n") or "",
        err:sub(1, 3000))
    end
  end

  local p = function(...) io.write(string.format(...), "\n") end
  p("corpus: %d files, each parsed in both boundary modes", #names)
  p("%-24s %8s %8s", "", "aligned", "packet")
  for _, status in ipairs { "complete", "incomplete", "rejected" } do
    p("%-24s %8d %8d", status == "rejected" and "rejected (nil, msg)" or "parsed, " .. status,
      counts.aligned[status] or 0, counts.packet[status] or 0)
  end
  for _, status in ipairs { "incomplete", "rejected" } do
    local t = reasons[status]
    if next(t) then
      p("%s, by reason (N stands for numbers that vary):", status)
      local keys = sorted_keys(t)
      table.sort(keys, function(a, b) return t[a].aligned + t[a].packet > t[b].aligned + t[b].packet end)
      for _, k in ipairs(keys) do p("  %-22s %8d %8d  %s", "", t[k].aligned, t[k].packet, k) end
    end
  end
  p("by link type (aligned mode):")
  p("  %-30s %6s %9s %11s %9s %9s %9s", "link type", "files", "complete", "incomplete", "rejected", "packets", "IP")
  local LINKTYPE_NAMES = linktype_names()
  local links = sorted_keys(by_link)
  table.sort(links, function(a, b) return (tonumber(a) or -1) < (tonumber(b) or -1) end)
  for _, link in ipairs(links) do
    local l = by_link[link]
    local label = link == "-" and "- (not opened)" or ("%s %s"):format(link, LINKTYPE_NAMES[tonumber(link)] or "")
    p("  %-30s %6d %9d %11d %9d %9d %9d", label, l.files, l.complete or 0, l.incomplete or 0, l.rejected or 0,
      l.packets or 0, l.ip or 0)
  end
  if #failures == 0 then
    p("failures: none (no crash, no timeout, no sanitizer report, no leak)")
    return true
  end
  p("FAILURES: %d file(s)", #failures)
  for _, f in ipairs(failures) do p("--- %s", f) end
  p("reproduce one: ASAN_OPTIONS=detect_leaks=1 build/tpp-asan tests/corpus.lua check %s/FILE", corpus or "CORPUS")
  return false
end

local cmd = arg[1]
if cmd == "check" and arg[2] then
  check(arg[2])
elseif cmd == "summary" and arg[2] then
  os.exit(summary(arg[2], arg[3]) and 0 or 1)
else
  io.stderr:write("usage: tpp tests/corpus.lua check FILE | summary DIR [CORPUS]\n")
  os.exit(2)
end
