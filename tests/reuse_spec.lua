-- When the main job may stand a dump in for a parse: only when the dump was made from this very capture (its
-- absolute path and a fingerprint of its content), never for a copy that merely shares its size and mtime
-- (cp -p, rsync -a, tar).  Also: content fingerprints (r.source_fingerprint, tpp.fingerprint) and dumps written by a
-- newer tpp, which are left alone.
local H = require "tests.helper"
local lfs = require "lfs"
local tpp = require "tpp"

local q = H.shell_quote
local TPP = H.tpp_absolute()

local exec = H.exec_in

-- A capture of `n` UDP packets one second apart from 10.0.<net>.<i>: captures of the same `n` have the same size
-- whatever `net`, and different numbers (the source addresses differ from the first byte of the first packet).
local function capture(path, n, net, port)
  local pkts = {}
  for i = 1, n do
    pkts[i] = { ts_ns = H.T0 + (i - 1) * H.NS,
                data = H.eth4_udp(("10.0.%d.%d"):format(net, i % 250 + 1), "10.9.9.9", 1000 + i, port or 53, "x") }
  end
  return H.write_capture(path, "ethernet", pkts)
end

local function same_mtime(from, to)
  assert(os.execute(("touch -r %s %s"):format(q(from), q(to))))
end

describe("dump reuse", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("does not report a copy with the same size and mtime from another capture's dump", function()
    lfs.mkdir(dir .. "/a")
    lfs.mkdir(dir .. "/b")
    capture(dir .. "/a/x.pcap", 30, 1)
    capture(dir .. "/b/x.pcap", 30, 2, 80)
    same_mtime(dir .. "/a/x.pcap", dir .. "/b/x.pcap")
    assert.are.equal(lfs.attributes(dir .. "/a/x.pcap", "size"), lfs.attributes(dir .. "/b/x.pcap", "size"))

    local _, err, status = exec(dir, "-f none -o out a/x.pcap")
    assert.are.equal(0, status, err)
    _, err, status = exec(dir, "-f none -o out b/x.pcap")
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("x.pcap -> x: 3 intervals, 30 packets (parsed)", 1, true), err)
    local r = assert(tpp.parse(dir .. "/b/x.pcap"))
    local d = assert(tpp.load(dir .. "/out/mem_dump/x.tpd"))
    assert.are.same(r:column("entropy_src"), d:column("entropy_src"))
    assert.are.equal(r:distinct_ports("udp_dst"), d:distinct_ports("udp_dst"))
    local _, rows = H.read_tsv(dir .. "/out/port_count/x_port_count.tsv")
    assert.are.same({ "udp_dst", "1" }, rows[4])
    assert.are.equal(r:distinct_ports("udp_dst"), 1)
  end)

  it("parses again when the content changed but size and mtime were restored", function()
    local path = capture(dir .. "/x.pcap", 30, 1)
    capture(dir .. "/ref.pcap", 30, 1)
    same_mtime(dir .. "/ref.pcap", path)
    local _, err, status = exec(dir, "-f none x.pcap")
    assert.are.equal(0, status, err)
    _, err = exec(dir, "-f none x.pcap")
    assert.is_truthy(err:find("(from its dump)", 1, true), err)   -- the same capture: reused
    capture(path, 30, 3)
    same_mtime(dir .. "/ref.pcap", path)
    _, err, status = exec(dir, "-f none x.pcap")
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("(parsed)", 1, true), err)
    assert.are.same(assert(tpp.parse(path)):column("entropy_src"),
      assert(tpp.load(dir .. "/mem_dump/x.tpd")):column("entropy_src"))
  end)

  it("records the capture's absolute path and fingerprint in the dump", function()
    capture(dir .. "/x.pcap", 5, 1)
    local _, err, status = exec(dir, "-f none ./x.pcap")
    assert.are.equal(0, status, err)
    local d = assert(tpp.load(dir .. "/mem_dump/x.tpd"))
    assert.are.equal(dir .. "/x.pcap", d.source)   -- dir: an absolute path (mktemp -d)
    assert.are.equal(tpp.fingerprint(dir .. "/x.pcap"), d.source_fingerprint)
  end)

  it("leaves a dump of a newer format alone, and still writes the other outputs", function()
    capture(dir .. "/x.pcap", 12, 1)
    local _, err, status = exec(dir, "-f none x.pcap")
    assert.are.equal(0, status, err)
    local dump = dir .. "/mem_dump/x.tpd"
    local bytes = H.read_file(dump)
    local newer = bytes:sub(1, 8) .. string.pack("<I4", 99) .. bytes:sub(13)
    H.write_file(dump, newer)
    os.remove(dir .. "/critical/x_critical.tsv")
    _, err, status = exec(dir, "-f none x.pcap")
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("written by a newer tpp", 1, true), err)
    assert.is_truthy(err:find("left as it is", 1, true), err)
    assert.are.equal(newer, H.read_file(dump))
    assert.is_truthy(lfs.attributes(dir .. "/critical/x_critical.tsv"))
    assert.is_truthy(err:find("(parsed)", 1, true), err)
  end)
end)

describe("content fingerprints", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("are 16 hex digits, the same for r.source_fingerprint, a dump and tpp.fingerprint", function()
    local path = capture(dir .. "/x.pcap", 10, 1)
    local r = assert(tpp.parse(path))
    assert.is_truthy(r.source_fingerprint:match("^%x+$") and #r.source_fingerprint == 16, r.source_fingerprint)
    assert.are.equal(tpp.fingerprint(path), r.source_fingerprint)
    assert(r:dump(dir .. "/x.tpd"))
    assert.are.equal(r.source_fingerprint, assert(tpp.load(dir .. "/x.tpd")).source_fingerprint)
  end)

  it("tell apart files of equal size and mtime that differ in their first or last 64 KiB", function()
    local size = 300 * 1024
    local base = ("abcdefgh"):rep(size // 8)
    local function variant(name, at)
      local text = at and (base:sub(1, at - 1) .. "Z" .. base:sub(at + 1)) or base
      H.write_file(dir .. "/" .. name, text)
      assert(os.execute(("touch -d @1700000000 %s"):format(q(dir .. "/" .. name))))
      return tpp.fingerprint(dir .. "/" .. name)
    end
    local fp = variant("base")
    assert.are.equal(fp, variant("same"))
    assert.are_not.equal(fp, variant("head", 10))
    assert.are_not.equal(fp, variant("tail", size - 10))
    assert(os.execute(("touch -d @1700000001 %s"):format(q(dir .. "/same"))))
    assert.are_not.equal(fp, tpp.fingerprint(dir .. "/same"))
  end)

  it("follow docs/dump-format.md: FNV-1a-64 of size, mtime, the first and the last 64 KiB", function()
    local function fnv(h, bytes)
      for i = 1, #bytes do h = (h ~ bytes:byte(i)) * 0x100000001b3 end
      return h
    end
    for _, size in ipairs { 1000, 65536 + 5000, 3 * 65536 + 7 } do
      local parts = {}
      for i = 1, size // 16 + 1 do parts[i] = ("%015x\n"):format(i * 7919) end
      local text = table.concat(parts):sub(1, size)
      local path = H.write_file(dir .. "/f" .. size, text)
      assert(os.execute(("touch -d @1700000000.25 %s"):format(q(path))))
      local h = fnv(fnv(0xcbf29ce484222325, string.pack("<I8", size)), string.pack("<i8", 1700000000250000000))
      h = fnv(h, text:sub(1, math.min(size, 65536)))
      h = fnv(h, text:sub(math.max(size - 65536, 65536) + 1))
      assert.are.equal(("%016x"):format(h), tpp.fingerprint(path), size)
    end
  end)

  it("are absent for standard input, and tpp.fingerprint fails for what is not a regular file", function()
    local path = capture(dir .. "/x.pcap", 4, 1)
    local out = H.run(("%s -e %s < %s"):format(q(TPP),
      q("local r = require('tpp').parse('-'); io.write(tostring(r.source_fingerprint), ' ', r.packets)"), q(path)))
    assert.are.equal("nil 4", out)
    local fp, err = tpp.fingerprint(dir)
    assert.is_nil(fp)
    assert.is_truthy(err:find("not a regular file", 1, true), err)
    fp, err = tpp.fingerprint(dir .. "/nope")
    assert.is_nil(fp)
    assert.is_truthy(err:find("nope: No such file", 1, true), err)
  end)
end)
