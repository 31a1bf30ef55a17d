-- Large dump sections are deflated in pieces of 1 MiB raw bytes on two threads (src/zpieces.c): the file keeps the
-- documented format (each compressed payload one zlib stream), loads back whole, inflates with another zlib, and
-- its bytes do not depend on the number of threads.
local tpp = require "tpp"
local synth = require "tpp.synth"
local H = require "tests.helper"

local SERIES = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" }
local STREAMED = 4 * 1024 * 1024 -- docs/dump-format.md: payloads from this size on are deflated as they are made

-- The sections of a dump as docs/dump-format.md lays them out: { tag, flags, stored, raw, data }.
local function sections(bytes)
  local out, off = {}, 25 -- after the 24-byte file header
  while off <= #bytes - 4 do
    local tag, flags, stored, raw, at = string.unpack("<c4I4I8I8", bytes, off)
    out[#out + 1] = { tag = tag, flags = flags, stored = stored, raw = raw, data = bytes:sub(at, at + stored - 1) }
    off = at + stored
  end
  return out
end

-- python3, when the machine has it: zlib's own inflate, independent of tpp's.
local function have_python()
  local _, ok = H.run("python3 -c 'import zlib' 2>/dev/null")
  return ok
end

-- Inflate a zlib stream with python3's zlib (which checks the Adler-32 trailer): the raw bytes, or nil and why.
local function python_inflate(dir, stream)
  local src, dst = H.write_file(dir .. "/stream.z", stream), dir .. "/stream.raw"
  local code = "import sys, zlib\nopen(sys.argv[2], 'wb').write(zlib.decompress(open(sys.argv[1], 'rb').read()))"
  local _, ok = H.run(("python3 -c %s %s %s 2>%s"):format(H.shell_quote(code), H.shell_quote(src), H.shell_quote(dst),
                                                         H.shell_quote(dir .. "/python.err")))
  if not ok then return nil, H.read_file(dir .. "/python.err") end
  return H.read_file(dst)
end

-- COLS's raw payload: { name = { type = "C"|"R"|"T", values = { ... } } } read as the format describes it.
local function read_cols(raw, nintervals)
  local ncols, off = string.unpack("<I4", raw)
  local list = {}
  for c = 1, ncols do
    local name, type
    name, type, off = string.unpack("<s4c1", raw, off)
    list[c] = { name = name, type = type }
  end
  assert.are.equal(#raw, off - 1 + ncols * nintervals * 8)
  local cols = {}
  for c, col in ipairs(list) do
    local fmt = col.type == "R" and "<d" or "<i8"
    col.values = {}
    for i = 1, nintervals do
      col.values[i] = string.unpack(fmt, raw, off + ((c - 1) * nintervals + i - 1) * 8)
    end
    cols[col.name] = col
  end
  return cols
end

-- What a result holds, as text: the critical table, the heavy hitters, every port count.
local function contents(r, dir, name)
  assert(r:write_critical(dir .. "/" .. name .. ".tsv"))
  assert(r:write_heavy_hitters(dir .. "/" .. name .. "_hh.tsv"))
  local ports = {}
  for _, series in ipairs(SERIES) do
    for i, port, count in r:ports(series) do ports[#ports + 1] = ("%s %d %d %d"):format(series, i, port, count) end
  end
  return { critical = H.read_file(dir .. "/" .. name .. ".tsv"), hh = H.read_file(dir .. "/" .. name .. "_hh.tsv"),
           ports = table.concat(ports, "\n") }
end

describe("dump sections deflated in pieces", function()
  local dir, r, path
  setup(function()
    dir = H.tmpdir()
    -- 40 s at 1 ms: 40,000 intervals, so COLS (70 fields of 8 bytes a row) is 22 MB, HHIT several MB
    synth.generate(dir .. "/fine.pcap", { packets = 100000, duration = 40, seed = 19 })
    r = assert(tpp.parse(dir .. "/fine.pcap", { delta_t = 0.001 }))
    path = dir .. "/fine.tpd"
    assert(r:dump(path))
  end)
  teardown(function() H.rmtree(dir) end)

  it("loads back the same columns, port counts and heavy hitters", function()
    local loaded = assert(tpp.load(path))
    assert.are.same(contents(r, dir, "live"), contents(loaded, dir, "loaded"))
  end)

  it("cuts COLS and HHIT into several pieces, each payload one zlib stream", function()
    local byte = {}
    for _, s in ipairs(sections(H.read_file(path))) do byte[s.tag] = s end
    for _, tag in ipairs { "COLS", "HHIT" } do
      local s = byte[tag]
      assert.is_true(s.raw >= 3 * 1024 * 1024 and s.raw >= STREAMED, tag .. " is too small to test pieces")
      assert.are.equal(1, s.flags)
      assert.are.equal("\x78\x01", s.data:sub(1, 2)) -- one zlib header, not one a piece
      -- a full flush ends every piece but the last: the empty stored block 00 00 ff ff, every MiB of raw bytes
      local flushes = select(2, s.data:gsub("\0\0\xff\xff", ""))
      assert.is_true(flushes >= s.raw // (1024 * 1024), tag .. ": " .. flushes .. " flushes")
    end
  end)

  it("inflates with python3's zlib to the raw length, COLS to the result's own numbers", function()
    if not have_python() then
      pending("python3 with zlib is not installed")
      return
    end
    for _, s in ipairs(sections(H.read_file(path))) do
      if s.flags == 1 then
        local raw, why = python_inflate(dir, s.data)
        assert(raw, s.tag .. ": " .. tostring(why))
        assert.are.equal(s.raw, #raw, s.tag)
        if s.tag == "COLS" then
          local cols = read_cols(raw, #r)
          local checked = 0
          for _, name in ipairs(r:columns()) do
            local col = cols[name]
            if col and col.type ~= "T" then -- times are seconds as floats in Lua: compared through the TSV above
              local want = r:column(name)
              for i = 1, #r do
                local a, b = col.values[i], want[i]
                if col.type == "C" then b = math.tointeger(b) end
                if not (a == b or (a ~= a and b ~= b)) then
                  error(("%s[%d]: dump %s, result %s"):format(name, i, tostring(a), tostring(b)))
                end
              end
              checked = checked + 1
            end
          end
          assert.is_true(checked >= 40, "only " .. checked .. " columns compared")
        end
      end
    end
  end)

  it("fails whole, naming the file, when the disk fills while pieces are in flight", function()
    -- the dump is about 11 MB: 2 MB fill up inside COLS's stream, 5 MB inside HHIT's, sent out as it is made
    for _, size in ipairs { "2m", "5m" } do
      local mnt = dir .. "/small" .. size
      assert(os.execute("mkdir " .. H.shell_quote(mnt)))
      if not os.execute(("mount -t tmpfs -o size=%s tmpfs %s 2>/dev/null"):format(size, H.shell_quote(mnt))) then
        pending("cannot mount a small tmpfs here (not root?)")
        return
      end
      local ok, err = r:dump(mnt .. "/fine.tpd")
      local left = H.list_dir(mnt)
      os.execute("umount " .. H.shell_quote(mnt))
      assert.is_nil(ok)
      assert.are.equal(mnt .. "/fine.tpd: cannot write: No space left on device", err)
      assert.are.same({}, left)
    end
  end)

  it("writes the same bytes every time, on one thread or two", function()
    assert(r:dump(dir .. "/again.tpd"))
    assert.are.equal(H.read_file(path), H.read_file(dir .. "/again.tpd"))
    local _, have_taskset = H.run("taskset -c 0 true 2>/dev/null")
    if not have_taskset then
      pending("taskset is not installed")
      return
    end
    -- another process, allowed one processor: the dump is deflated without a helper thread
    local script = H.write_file(dir .. "/one.lua", ([[
      local r = assert(require("tpp").load(%q))
      assert(r:dump(%q))
    ]]):format(path, dir .. "/one.tpd"))
    local out, ok = H.run(("taskset -c 0 %s %s 2>&1"):format(H.shell_quote(H.tpp_binary()), H.shell_quote(script)))
    assert(ok, out)
    assert.are.equal(H.read_file(path), H.read_file(dir .. "/one.tpd"))
  end)
end)
