-- The tpp host: behaves like the lua interpreter, finds its library, reports errors, reads stdin.
local H = require "tests.helper"

local TPP = H.tpp_binary()
local q = H.shell_quote

local sh = H.sh -- stdout, stderr, exit status of a shell command

describe("the tpp host", function()
  it("runs a script with its arguments in arg and ...", function()
    local dir = H.tmpdir()
    local script = H.write_file(dir .. "/s.lua", 'print(arg[0], arg[1], arg[2], select("#", ...), ...)')
    local out, _, status = sh(TPP .. " " .. q(script) .. " a 'b c'")
    H.rmtree(dir)
    assert.are.equal(0, status)
    assert.are.equal(script .. "\ta\tb c\t2\ta\tb c\n", out)
  end)

  it("runs -e chunks in order and requires modules with -l", function()
    local out, _, status = sh(TPP .. " -l string -e 'x = 6' -e 'print(x * 7, string.rep(\"ab\", 2))'")
    assert.are.equal(0, status)
    assert.are.equal("42\tabab\n", out)
  end)

  it("prints its version with -v", function()
    local out, _, status = sh(TPP .. " -v")
    assert.are.equal(0, status)
    assert.truthy(out:match("^tpp %d+%.%d+%.%d+ %(Lua 5%.4"))
  end)

  it("reads a script from stdin with -", function()
    local out, _, status = sh("echo 'print(1 + 2)' | " .. TPP .. " -")
    assert.are.equal(0, status)
    assert.are.equal("3\n", out)
  end)

  it("prints a traceback on stderr and exits 1 when a script fails", function()
    local out, err, status = sh(TPP .. " -e 'local function f() error(\"boom\") end f()'")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:match("^tpp: %(command line%):1: boom"))
    assert.truthy(err:match("stack traceback:"))
  end)

  it("exits 1 with a message for a missing script", function()
    local _, err, status = sh(TPP .. " /nonexistent/script.lua")
    assert.are.equal(1, status)
    assert.truthy(err:match("/nonexistent/script.lua"))
  end)

  it("finds the tpp module from any working directory", function()
    local binary = TPP:sub(1, 1) == "/" and TPP or (os.getenv("PWD") .. "/" .. TPP)
    local out, err, status = sh("cd / && " .. q(binary) .. " -e 'print(require(\"tpp\").version, require(\"tpp.walk\").stem(\"x/a.pcap.gz\"))'")
    assert.are.equal(0, status, err)
    assert.truthy(out:match("^%d+%.%d+%.%d+\ta\n$"))
  end)

  it("evaluates expressions and survives errors in the REPL (-i on a pipe)", function()
    local out, err, status = sh("printf '1+1\\nerror(\"oops\")\\nx = 5\\nx * 2\\n' | " .. TPP .. " -i")
    assert.are.equal(0, status)
    assert.truthy(out:match("2\n"))
    assert.truthy(out:match("10\n"))
    assert.truthy(err:match("oops"))
  end)

  it("parses a capture from stdin, plain or gzip-compressed", function()
    local cap = "tests/data/parity/afs.pcap"
    local want = require("tpp").parse(cap).packets
    local code = q("local r = assert(require('tpp').parse('-')) print(r.packets)")
    local out, err, status = sh("cat " .. cap .. " | " .. TPP .. " -e " .. code)
    assert.are.equal(0, status, err)
    assert.are.equal(tostring(want) .. "\n", out)
    out, err, status = sh("gzip -c " .. cap .. " | " .. TPP .. " -e " .. code)
    assert.are.equal(0, status, err)
    assert.are.equal(tostring(want) .. "\n", out)
  end)
end)
