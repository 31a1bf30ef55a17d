-- tpp.kind: what a file is by its first bytes, told by the C core that reads it (so each magic number lives in
-- one place), and tpp.series: the port series' names as C orders them.
local H = require "tests.helper"
local tpp = require "tpp"

describe("tpp.kind", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  local function file(name, bytes) return H.write_file(dir .. "/" .. name, bytes) end

  it("names pcap in both byte orders and resolutions, pcapng, and a dump tpp wrote", function()
    local packets = { { ts_ns = 1000000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x") } }
    local micro = H.write_capture(dir .. "/micro.pcap", 1, packets)
    local nano = H.write_capture(dir .. "/nano.pcap", 1, packets, { nanosecond = true })
    assert.are.equal("pcap", tpp.kind(micro))
    assert.are.equal("pcap", tpp.kind(nano))
    assert.are.equal("pcap", tpp.kind(file("swapped.pcap", "\xa1\xb2\xc3\xd4" .. ("\0"):rep(20))))
    assert.are.equal("pcap", tpp.kind(file("modified.pcap", "\x34\xcd\xb2\xa1" .. ("\0"):rep(20))))
    assert.are.equal("pcapng", tpp.kind(file("x.pcapng", H.pcapng.shb())))
    local r = assert(tpp.parse(micro))
    assert(r:dump(dir .. "/x.tpd"))
    assert.are.equal("dump", tpp.kind(dir .. "/x.tpd"))
  end)

  it("names the compressors tpp reads through, a zstd skippable frame included", function()
    assert.are.equal("gzip", tpp.kind(file("a.gz", "\x1f\x8b\x08\0")))
    assert.are.equal("zstd", tpp.kind(file("a.zst", "\x28\xb5\x2f\xfd\0")))
    assert.are.equal("zstd", tpp.kind(file("b.zst", "\x5a\x2a\x4d\x18\0\0\0\0")))
    assert.are.equal("xz", tpp.kind(file("a.xz", "\xfd7zXZ\0")))
  end)

  it("says why anything else is not read: compressors it does not read, empty and unknown files", function()
    local bz = file("a.bz2", "BZh91AY")
    assert.are.same({ nil, bz .. ": bzip2-compressed: decompress it first" }, { tpp.kind(bz) })
    local lz4 = file("a.lz4", "\x04\x22\x4d\x18")
    assert.are.same({ nil, lz4 .. ": lz4-compressed: decompress it first" }, { tpp.kind(lz4) })
    local empty = file("empty.pcap", "")
    assert.are.same({ nil, empty .. ": empty file (0 bytes), not a capture" }, { tpp.kind(empty) })
    local text = file("notes.txt", "BZh is not bzip2 without a block size")
    assert.are.same({ nil, text .. ": not a capture (unknown magic bytes)" }, { tpp.kind(text) })
  end)

  it("returns a third value, unreadable, when the file cannot be read at all", function()
    local missing = dir .. "/missing.pcap"
    assert.are.same({ nil, missing .. ": no such file or directory", "unreadable" }, { tpp.kind(missing) })
    assert.are.same({ nil, dir .. ": is a directory", "unreadable" }, { tpp.kind(dir) })
  end)

  it("leaves the file as it was", function()
    local path = file("a.gz", "\x1f\x8b\x08\0rest")
    tpp.kind(path)
    assert.are.equal("\x1f\x8b\x08\0rest", H.read_file(path))
  end)
end)

describe("tpp.series", function()
  it("lists the port series in the order C keeps them, the names r:ports accepts", function()
    assert.are.same({ "tcp_src", "tcp_dst", "udp_src", "udp_dst" }, tpp.series)
    local dir = H.tmpdir()
    local path = H.write_capture(dir .. "/x.pcap", 1,
      { { ts_ns = 1000000000, data = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "x") } })
    local r = assert(tpp.parse(path))
    H.rmtree(dir)
    for _, s in ipairs(tpp.series) do assert.is_function(r:ports(s)) end
  end)
end)
