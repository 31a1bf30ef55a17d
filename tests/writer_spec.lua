-- tpp.pcap_writer: captures written atomically, read back by tpp itself and by libpcap's peers.
local tpp = require "tpp"
local H = require "tests.helper"

local FRAME = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "hello")

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function leftovers(dir)
  local out = H.run("ls -A " .. H.shell_quote(dir))
  local names = {}
  for name in out:gmatch("[^\n]+") do names[#names + 1] = name end
  return names
end

describe("tpp.pcap_writer", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("writes records that read back with their timestamps, lengths and bytes", function()
    local path = dir .. "/w.pcap"
    local w = tpp.pcap_writer(path, "ethernet", { nanosecond = true })
    w:write_ns(1674709200123456789, FRAME)
    w:write(1674709201.5, FRAME, 1500)
    assert.is_true(w:close())
    local got = {}
    for p in tpp.packets(path) do got[#got + 1] = p end
    assert.are.equal(2, #got)
    assert.are.equal(1674709200123456789, got[1].ts_ns)
    assert.are.equal(1674709201500000000, got[2].ts_ns)
    assert.are.equal(#FRAME, got[2].caplen)
    assert.are.equal(1500, got[2].wirelen)
    assert.are.equal("10.0.0.1", got[1].src)
    assert.are.equal(53, got[1].dport)
  end)

  it("writes pcap and pcapng that tcpdump reads", function()
    if not H.run("command -v tcpdump >/dev/null && echo yes"):match("yes") then return pending("tcpdump not installed") end
    for _, opts in ipairs { { format = "pcapng" }, { format = "pcap" }, { nanosecond = true } } do
      local path = dir .. "/t" .. tostring(opts.nanosecond) .. "." .. (opts.format or "pcap")
      local w = tpp.pcap_writer(path, "ethernet", opts)
      for k = 1, 3 do w:write_ns(k * 1000000000, FRAME) end
      w:close()
      local out, ok = H.run("tcpdump -nr " .. H.shell_quote(path) .. " 2>/dev/null | wc -l")
      assert.is_true(ok)
      assert.are.equal("3", out:match("%d+"))
    end
  end)

  it("cuts records to the snap length and keeps the wire length", function()
    local path = dir .. "/s.pcap"
    local w = tpp.pcap_writer(path, "ethernet", { snaplen = 20 })
    w:write(1, FRAME)
    w:close()
    for p in tpp.packets(path) do
      assert.are.equal(20, p.caplen)
      assert.are.equal(#FRAME, p.wirelen)
    end
  end)

  it("leaves nothing at the path until it is closed, and no temporary file after", function()
    local path = dir .. "/a.pcap"
    local w = tpp.pcap_writer(path, "raw")
    w:write(1, "\x45\0\0\20")
    assert.is_false(exists(path))
    w:close()
    assert.is_true(exists(path))
    assert.are.same({ "a.pcap" }, leftovers(dir))
  end)

  it("commits a to-be-closed writer when its scope ends normally", function()
    local path = dir .. "/scoped.pcap"
    do
      local w <close> = tpp.pcap_writer(path, "raw")
      w:write(1, "\x45\0\0\20")
    end
    assert.is_true(exists(path))
  end)

  it("discards the capture when its scope ends by an error, keeping the previous file", function()
    local path = H.write_file(dir .. "/keep.pcap", "previous contents")
    local ok = pcall(function()
      local w <close> = tpp.pcap_writer(path, "raw")
      w:write(1, "\x45\0\0\20")
      error("the script failed")
    end)
    assert.is_false(ok)
    assert.are.equal("previous contents", H.read_file(path))
    assert.are.same({ "keep.pcap" }, leftovers(dir))
  end)

  it("commits a writer that is collected without being closed, as a Lua file is flushed", function()
    local path = dir .. "/dropped.pcap"
    local w = tpp.pcap_writer(path, "raw")
    w:write(1, "\x45\0\0\20")
    w = nil
    collectgarbage()
    collectgarbage()
    assert.are.same({ "dropped.pcap" }, leftovers(dir))
    assert.are.equal(1, tpp.open(path).packets)
  end)

  -- A script that writes `n` records and ends as `ending` says, run by tpp; the packets at path afterwards.
  local function script_writes(path, ending)
    local script = H.write_file(dir .. "/w.lua", ([[
local tpp = require "tpp"
local w = tpp.pcap_writer(%q, "raw")
for k = 1, 3 do w:write(k, "\x45\0\0\20") end
%s
]]):format(path, ending))
    local _, err, status = H.sh(H.shell_quote(H.tpp_binary()) .. " " .. H.shell_quote(script))
    os.remove(script)
    local r = tpp.open(path)
    return r and r.packets, status, err
  end

  it("commits an unclosed writer when the script ends, by os.exit(0), by os.exit(1) or by an error", function()
    local endings = { [""] = 0, ["os.exit(0)"] = 0, ["os.exit(1)"] = 1, ["os.exit(true, true)"] = 0,
                      ["error('late failure')"] = 1 }
    for ending, expected_status in pairs(endings) do
      local path = dir .. "/end.pcap"
      local packets, status, err = script_writes(path, ending)
      assert.are.equal(3, packets, ending .. ": " .. err)
      assert.are.equal(expected_status, status, ending)
      assert.are.same({ "end.pcap" }, leftovers(dir))
      os.remove(path)
    end
  end)

  it("throws the capture away on w:discard(), keeping the previous file", function()
    local path = H.write_file(dir .. "/keep.pcap", "previous contents")
    local packets, status, err = script_writes(path, "w:discard() w:discard() os.exit(0)")
    assert.are.equal(0, status, err)
    assert.is_nil(packets)
    assert.are.equal("previous contents", H.read_file(path))
    assert.are.same({ "keep.pcap" }, leftovers(dir))
  end)

  it("returns nil and a message naming the path when the directory does not exist", function()
    local w, err = tpp.pcap_writer(dir .. "/missing/x.pcap", "raw")
    assert.is_nil(w)
    assert.truthy(err:find(dir .. "/missing/x.pcap", 1, true))
  end)

  it("refuses an unknown link type name and a closed writer", function()
    assert.has_error(function() tpp.pcap_writer(dir .. "/x.pcap", "token-ring") end)
    local w = tpp.pcap_writer(dir .. "/y.pcap", "raw")
    w:close()
    assert.has_error(function() w:write(1, "x") end, "attempt to use a closed pcap writer")
  end)
end)
