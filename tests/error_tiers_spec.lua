-- Two tiers of errors, as io.open and f:close: a failure of the world returns nil, "path: reason"; misuse raises;
-- an iterator raises, as io.lines does, since a for loop has no place for nil, msg (issue 13, item 4).
local tpp = require "tpp"
local H = require "tests.helper"
local synth = require "tpp.synth"

local FRAME = H.eth4_udp("10.0.0.1", "10.0.0.2", 1000, 53, "hello")

local function ls(dir)
  local out = H.run("ls -A " .. H.shell_quote(dir))
  return out
end

describe("failures of the world", function()
  local dir

  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("tpp.pcap_writer returns nil and 'path: reason' when the path cannot be created", function()
    local path = dir .. "/missing/x.pcap"
    local w, err = tpp.pcap_writer(path, "raw")
    assert.is_nil(w)
    assert.are.equal(path .. ": cannot create: No such file or directory", err)
    assert.are.equal("", ls(dir))
  end)

  it("w:close() returns nil and 'path: reason' when the capture cannot be put in place", function()
    local path = dir .. "/x.pcap"
    local w = assert(tpp.pcap_writer(path, "ethernet"))
    w:write(1700000000, FRAME)
    assert(os.execute("mkdir " .. H.shell_quote(path)))  -- the world changed under the writer: a directory there
    local ok, err = w:close()
    assert.is_nil(ok)
    assert.are.equal(path .. ": cannot write: Is a directory", err)
    assert.are.equal("x.pcap\n", ls(dir))                -- the directory only, no temporary file left
    assert.are.equal("", ls(path))
    assert.has_error(function() w:close() end, "attempt to use a closed pcap writer") -- closing twice is misuse
  end)

  it("synth.generate passes the writer's nil, 'path: reason' on", function()
    local path = dir .. "/missing/trace.pcap"
    local s, err = synth.generate(path, { packets = 100, duration = 1 })
    assert.is_nil(s)
    assert.are.equal(path .. ": cannot create: No such file or directory", err)
  end)
end)

describe("misuse", function()
  local dir

  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmtree(dir) end)

  it("raises for a bad link type, option or argument, creating nothing", function()
    assert.has_error(function() tpp.pcap_writer(dir .. "/x.pcap", "token-ring") end,
                     "bad argument #2 to 'pcap_writer' (unknown link type 'token-ring')")
    assert.has_error(function() tpp.pcap_writer(dir .. "/x.pcap", "raw", { format = "erf" }) end)
    assert.has_error(function() tpp.pcap_writer(nil, "raw") end)
    assert.are.equal("", ls(dir))
  end)
end)

describe("iterators", function()
  it("raise with the file's name, as io.lines does", function()
    local path = H.tmpdir()
    local missing = path .. "/nope.pcap"
    local ok, err = pcall(function() for _ in tpp.packets(missing) do end end)
    H.rmtree(path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(missing .. ": No such file or directory", 1, true))
  end)
end)
