-- tpp.progress: bars on a terminal, plain lines elsewhere, silence with quiet, messages between them.
local progress = require "tpp.progress"

-- A stream that collects what is written.
local function sink()
  local s = { text = "" }
  function s:write(...)
    for _, v in ipairs { ... } do self.text = self.text .. v end
    return self
  end
  function s:flush() return self end
  return s
end

describe("tpp.progress", function()
  it("prints plain lines with bytes, packets, rate and time left when not on a terminal", function()
    local out = sink()
    local d = progress.new { stream = out, tty = false, every = 0 }
    d:start(1, "data/x.pcap.gz", 2000000)
    d:update(1, 500000, 2000000, 65536)
    d:message("something happened")
    d:finish(1)
    d:close()
    local lines = {}
    for l in out.text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(2, #lines)
    assert.is_truthy(lines[1]:match("^tpp: data/x%.pcap%.gz: 25%% %(500%.0 kB of 2%.0 MB%), 65536 packets, %d+ packets/s, "
      .. "[%d:hmins ]+ left$"), lines[1])
    assert.are.equal("tpp: something happened", lines[2])
    assert.is_falsy(out.text:find("\27", 1, true))
  end)

  it("prints a plain line only every few seconds", function()
    local out = sink()
    local d = progress.new { stream = out, tty = false, every = 3600 }
    d:start(1, "x", 100)
    for i = 1, 10 do d:update(1, i, 100, i) end
    assert.are.equal("", out.text)
  end)

  it("draws one bar per capture on a terminal and erases them before a message", function()
    local out = sink()
    local d = progress.new { stream = out, tty = true, width = 100 }
    d:start("a", "dir/a.pcap", 1000)
    d:start("b", "dir/b.pcap", 1000)
    d:update("a", 500, 1000, 10)
    d:message("hello")
    local text = out.text
    assert.is_truthy(text:find("a.pcap", 1, true))
    assert.is_truthy(text:find("b.pcap", 1, true))
    assert.is_truthy(text:find("\27[2F\27[J", 1, true))     -- two bars erased
    assert.is_truthy(text:find("tpp: hello\n", 1, true))
    for line in text:gsub("\27%[%d*F", ""):gsub("\27%[J", ""):gmatch("[^\n]+") do
      assert.is_true(#line < 100, line)
    end
    d:close()
  end)

  it("says nothing but messages when quiet", function()
    local out = sink()
    local d = progress.new { stream = out, tty = true, quiet = true }
    d:start(1, "x", 100)
    d:update(1, 50, 100, 5)
    d:info("not shown")
    d:message("shown")
    d:finish(1)
    d:close()
    assert.are.equal("tpp: shown\n", out.text)
  end)

  it("formats durations and sizes", function()
    assert.are.equal("42 s", progress.duration_text(42))
    assert.are.equal("3 min 05 s", progress.duration_text(185))
    assert.are.equal("2 h 07 min", progress.duration_text(2 * 3600 + 7 * 60))
    assert.are.equal("999 B", progress.bytes_text(999))
    assert.are.equal("1.5 MB", progress.bytes_text(1500000))
  end)
end)
