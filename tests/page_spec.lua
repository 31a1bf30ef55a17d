-- tests/page_spec.lua — the interactive page (tpp.page, plot/<name>.html) in a real browser: headless Chromium
-- loads it from the file system with the page's CSP (no network), and the page's own script reports in
-- #tpp-status (data-ok, data-error, data-blocked, data-charts, data-rows, data-fnv) and, on #selftest, writes the
-- table it holds back as TSV (#tpp-selftest), which must equal the critical TSV byte for byte.
local HERE = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local H = dofile(HERE .. "helper.lua")
local tpp = require "tpp"
local lfs = require "lfs"
local page = require "tpp.page"
local plot = require "tpp.plot"
local synth = require "tpp.synth"

-- Chromium from Debian (make deps installs it), or nil.
local function find_chromium()
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    for _, name in ipairs({ "chromium", "chromium-browser" }) do
      local path = dir .. "/" .. name
      if lfs.attributes(path, "mode") == "file" then return path end
    end
  end
end
local CHROMIUM = find_chromium()
local it_cr = CHROMIUM and it or function(name)
  pending(name .. " (chromium is not installed: make deps installs it)")
end
local HAVE_DYGRAPHS = lfs.attributes(page.DYGRAPHS .. "/dygraph.min.js", "mode") == "file"

-- The DOM of `file` after its scripts ran (--dump-dom), url fragment `hash`; Chromium runs as root with
-- --no-sandbox, in a private profile under `dir`, and is killed after 30 s.
local function dom(dir, file, hash)
  local argv = { CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                 "--user-data-dir=" .. dir .. "/chromium-profile", "--virtual-time-budget=5000", "--dump-dom",
                 "file://" .. require("tpp.walk").absolute(file) .. (hash or "") }
  local p = assert(tpp.spawn(argv))
  local out, deadline = {}, tpp.now() + 30
  while not p:eof() do
    if tpp.now() > deadline then
      p:kill(9)
      p:wait()
      error("chromium did not finish within 30 s on " .. file)
    end
    tpp.poll({ p }, 0.5)
    for _, line in ipairs((p:read())) do out[#out + 1] = line end
  end
  for _, line in ipairs((p:read())) do out[#out + 1] = line end
  p:wait()
  local text = table.concat(out, "\n")
  assert(text:find("</html>", 1, true), "chromium wrote no page for " .. file)
  return text
end

local function unescape(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&#39;", "'"):gsub("&nbsp;", "\194\160")
           :gsub("&amp;", "&"))
end

-- The attributes of the page's status element.
local function status(text)
  local tag = assert(text:match('<div id="tpp%-status"[^>]*>'), "no status element")
  local attrs = {}
  for k, v in tag:gmatch('([%w%-]+)="([^"]*)"') do attrs[k] = unescape(v) end
  return attrs
end

-- 32-bit FNV-1a of a string's bytes (the page hashes UTF-16 code units: the same for ASCII text).
local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s do h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff end
  return ("%08x"):format(h)
end

local function critical(r, dir)
  local path = dir .. "/critical.tsv"
  assert(r:write_critical(path))
  return H.read_file(path)
end

-- The page loaded cleanly: its script ran to the end, no error, nothing blocked by the CSP.
local function assert_clean(st)
  assert.are.equal("1", st["data-ok"], st["data-error"])
  assert.is_nil(st["data-error"])
  assert.is_nil(st["data-blocked"])
end

describe("tpp.page in headless Chromium", function()
  local dir, r, cap
  setup(function()
    dir = H.tmpdir()
    cap = dir .. "/trace.pcap"
    assert(synth.generate(cap, { packets = 3000, duration = 30, seed = 3, scans = 1 }))
    r = assert(tpp.parse(cap, { delta_t = 1 }))
  end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it_cr("holds the critical table exactly, loads with no request and no script error, and draws every chart", function()
    local files, failures = plot.draw(r, { dir = dir .. "/plot", stem = "trace", figures = {}, quiet = true })
    assert.are.same({}, failures)
    assert.are.same({ dir .. "/plot/trace.html" }, files)
    local text = dom(dir, files[1], "#selftest")
    local st = status(text)
    assert_clean(st)
    local tsv = critical(r, dir)
    assert.are.equal(tostring(#r), st["data-rows"])
    assert.are.equal(fnv1a(tsv), st["data-fnv"])
    local back = assert(text:match('<pre id="tpp%-selftest"[^>]*>(.-)</pre>'), "no self-test output")
    assert.are.equal(tsv, unescape(back))
    if HAVE_DYGRAPHS then
      -- one chart per group of page.CHARTS with a column of numbers, one per port series with ports
      local want = 0
      for _, c in ipairs(page.CHARTS) do
        for _, name in ipairs(c.columns) do
          local col = r:column(name)
          local any = false
          for i = 1, #col do any = any or col[i] == col[i] end
          if any then want = want + 1 break end
        end
      end
      for _, s in ipairs({ "tcp_src", "tcp_dst", "udp_src", "udp_dst" }) do
        if #r:top_ports(s, nil, 1) > 0 then want = want + 1 end
      end
      assert.are.equal(tostring(want), st["data-charts"])
      assert.are.equal("1", st["data-synced"])   -- a zoom of the first chart reached every other one
      assert.is_truthy(text:find('class="dygraph-rangesel-fgcanvas"', 1, true) or
                       text:find("dygraph-rangesel", 1, true), "no range selector")
    end
  end)

  it_cr("reports a request the CSP blocks and a script error, so that a clean status means something", function()
    local path = dir .. "/plot/trace.html"
    assert(plot.draw(r, { dir = dir .. "/plot", stem = "trace", figures = {}, quiet = true }))
    local html = H.read_file(path)
    local bad = html:gsub('<script id="tpp%-page">',
      '<img src="http://127.0.0.1:9/x.png"><script>throw new Error("boom")</script>%0', 1)
    local bad_path = dir .. "/plot/bad.html"
    assert(tpp.write_atomic(bad_path, bad))
    local st = status(dom(dir, bad_path))
    assert.matches("http://127.0.0.1:9/x.png", st["data-blocked"] or "", 1, true)
    -- an error after the page's own script ran still turns the status to failed
    local late = html:gsub("</body>", '<script>throw new Error("late")</script></body>', 1)
    assert(tpp.write_atomic(bad_path, late))
    st = status(dom(dir, bad_path))
    assert.are.equal("0", st["data-ok"])
    assert.matches("late", st["data-error"])
  end)

  it_cr("shows the heavy hitters of the busiest interval, and the summary in words", function()
    local path = dir .. "/plot/trace.html"
    assert(plot.draw(r, { dir = dir .. "/plot", stem = "trace", figures = {}, quiet = true }))
    local text = dom(dir, path)
    assert_clean(status(text))
    local busiest = r:column("packets"):argmax()
    local box = assert(text:match('<div id="tpp%-hh"[^>]*>(.-)</div>'), "no heavy-hitter box")
    local shown = {}
    for caption, body in box:gmatch("<caption>(.-)</caption>(.-)</table>") do
      local keys = {}
      for key in body:gmatch("<tr><td>(.-)</td>") do keys[#keys + 1] = unescape(key) end
      shown[caption] = keys
    end
    for _, dim in ipairs(tpp.hh_dims) do
      local want = {}
      for k, h in ipairs(r:heavy_hitters(dim, busiest, page.HH_TOP)) do want[k] = tostring(h.key) end
      if #want == 0 then want = { "none" } end
      assert.are.same(want, shown[dim], dim)
    end
    -- the cursor line names the interval and its time to the millisecond
    local start = r:column("start")[busiest]
    local cursor = assert(text:match('<div id="tpp%-cursor"[^>]*>(.-)</div>'))
    assert.is_truthy(cursor:find(("interval %d: %s"):format(busiest - 1, os.date("!%Y-%m-%d %H:%M:%S", math.floor(start))),
                                 1, true), cursor)
    -- the summary: one end time, the last packet's, and no raw field dump
    local last = os.date("!%H:%M:%S", r.last_ns // 1000000000)
    assert.is_truthy(text:find(last .. (".%03d"):format(r.last_ns % 1000000000 // 1000000), 1, true), last)
    assert.is_nil(text:find("source_mtime", 1, true))
    assert.is_truthy(text:find(("%d packets: %d IP"):format(r.packets, r.ip_packets), 1, true))
  end)

  it_cr("treats names as text: a capture named like markup shows as that name, and runs nothing", function()
    local name = [[</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>]]
    local path = dir .. "/plot/" .. "odd.html"
    local html = assert(page.html(r, { name = name, figures = {
      { number = 1, title = "Packets", file = name .. "_1.png", own = true } } }))
    assert.is_nil(html:find(name, 1, true))
    assert(tpp.write_atomic(path, html))
    local text = dom(dir, path)
    assert_clean(status(text))
    assert.are.equal(name, unescape(assert(text:match("<h1>(.-)</h1>"))))
    assert.are.equal("tpp: " .. name, unescape(assert(text:match("<title>(.-)</title>"))))
  end)

  it_cr("without dygraphs says so, and still holds the data and the heavy hitters", function()
    local path = dir .. "/plot/plain.html"
    local html = assert(page.html(r, { name = "plain", dygraphs = dir .. "/no-such-dir" }))
    assert.is_nil(html:find('<script id="tpp-dygraphs">', 1, true))
    assert.is_truthy(html:find("libjs-dygraphs", 1, true))
    assert(tpp.write_atomic(path, html))
    local text = dom(dir, path, "#selftest")
    local st = status(text)
    assert_clean(st)
    assert.are.equal("0", st["data-charts"])
    assert.are.equal(critical(r, dir), unescape(text:match('<pre id="tpp%-selftest"[^>]*>(.-)</pre>')))
    assert.is_truthy(text:find("<caption>src</caption>", 1, true))
  end)

  it_cr("shades labelled windows and lists them", function()
    -- a result with labels (the shape the labelling adds: r.labels = { { id, type, taxonomy, from_ns, to_ns } })
    local first = r.first_ns - r.first_ns % 1000000000
    local labels = { { id = "scan-1", type = "scan", taxonomy = "<b>probe</b>", from_ns = first + 5000000000,
                       to_ns = first + 9000000000 } }
    local labelled = setmetatable({}, {
      __len = function() return #r end,
      __index = function(_, k)
        if k == "labels" then return labels end
        local v = r[k]
        if type(v) == "function" then return function(_, ...) return v(r, ...) end end
        return v
      end })
    local path = dir .. "/plot/labelled.html"
    assert(tpp.write_atomic(path, assert(page.html(labelled, { name = "labelled" }))))
    local text = dom(dir, path)
    assert_clean(status(text))
    assert.is_truthy(text:find('<section id="labels">', 1, true))
    assert.is_truthy(text:find("<td>scan-1</td><td>scan</td><td>&lt;b&gt;probe&lt;/b&gt;</td>", 1, true))
  end)
end)

describe("tpp.page.json_string", function()
  it("keeps a string inside <script>: no tag, no comment, no line separator can form", function()
    local s = "a</script><!--\226\128\168\226\128\169\"\\\n\0&"
    local j = page.json_string(s)
    assert.is_nil(j:find("[<>&\n%z]"))
    assert.is_nil(j:find("\226\128\168", 1, true))
    assert.is_nil(j:find("\226\128\169", 1, true))
    assert.are.equal('"a\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\"\\\\\\u000a\\u0000\\u0026"', j)
  end)
end)

describe("tpp.page of tiny results", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it_cr("loads for a capture without packets and for one of a single packet", function()
    local one = H.ethernet(nil, nil, H.ETH_IPV4, H.ipv4("10.0.0.1", "10.0.0.2", H.PROTO_UDP, H.udp(5000, 53, "q")))
    for name, packets in pairs({ none = {}, single = { { ts_ns = H.T0 + 123456789, data = one } } }) do
      local r = assert(tpp.parse(H.write_capture(dir .. "/" .. name .. ".pcap", H.LINKTYPE.ETHERNET, packets)))
      assert.are.equal(#packets, #r)
      local path = dir .. "/" .. name .. ".html"
      assert(tpp.write_atomic(path, assert(page.html(r, { name = name }))))
      local text = dom(dir, path, "#selftest")
      assert_clean(status(text))
      assert.are.equal(critical(r, dir), unescape(text:match('<pre id="tpp%-selftest"[^>]*>(.-)</pre>')), name)
    end
  end)
end)

describe("tpp.page of many intervals", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() if dir then H.rmtree(dir) end end)

  it("stays about the size of the critical table, with heavy hitters bounded", function()
    local cap = dir .. "/many.pcap"
    assert(synth.generate(cap, { packets = 100000, duration = 100, seed = 5 }))
    local r = assert(tpp.parse(cap, { delta_t = 0.005 }))
    assert.is_true(#r >= 19000)
    local html = assert(page.html(r, { name = "many" }))
    local tsv = critical(r, dir)
    local data = assert(html:match('<script type="application/json" id="tpp%-data">(.-)</script>'))
    -- times in steps (start, end) take no room; the heavy hitters at most HH_BUDGET pairs of a few digits
    assert.is_true(#data < #tsv * 0.97 + page.HH_BUDGET * 12, ("%d bytes of data for a %d-byte table"):format(#data, #tsv))
    local k = assert(tonumber(data:match('"k":(%d+)')))
    assert.are.equal(math.max(1, math.min(page.HH_TOP, page.HH_BUDGET // (#r * #tpp.hh_dims))), k)
  end)
end)
