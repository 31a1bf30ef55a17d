-- The formats analysts load (issue 19): the tables in TSV, CSV and NDJSON (r:write_critical with columns,
-- r:write_heavy_hitters, r:write_port_count, tpp.tables, the main job's --format and --columns), the text of a
-- real number (tpp.format_real: the shortest that reads back as the same double), and pandas and R reading them
-- with the right types and values.
local H = require "tests.helper"
local tpp = require "tpp"
local synth = require "tpp.synth"
local tables = require "tpp.tables"

local q = H.shell_quote
local work   -- { dir, trace, r }: one synthetic capture and its result, made once

local function setup()
  if work then return work end
  local dir = H.tmpdir()
  local trace = dir .. "/trace.pcap"
  assert(synth.generate(trace, { packets = 6000, duration = 20, scans = 1, seed = 3 }))
  -- every group but prefixes, novelty and headers: their columns are NaN in every row
  local r = assert(tpp.parse(trace, { delta_t = 0.5, features = "ports,flows,hh" }))
  work = { dir = dir, trace = trace, r = r }
  return work
end

-- The reference text of a double: the shortest "%.Ng" (N = 15, 16, 17) that reads back, by the C library's
-- printf and Lua's own tonumber.
local function reference_text(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  for prec = 15, 17 do
    local s = ("%." .. prec .. "g"):format(x)
    if tonumber(s) == x then return s end
  end
end

-- Split a delimited line (no quoted fields in tpp's own tables).
local function fields(line, sep)
  local out = {}
  for f in (line .. sep):gmatch("([^" .. sep .. "]*)" .. sep) do out[#out + 1] = f end
  return out
end

local function lines_of(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

-- The cells of a JSON object line written by tpp (flat: numbers, strings without escapes, null), in order.
local function json_cells(line)
  local out = {}
  assert.truthy(line:match("^{.*}$"), line)
  for key, value in line:sub(2, -2):gmatch('"([^"]+)":("?[^,"]*"?)') do out[#out + 1] = { key, value } end
  return out
end

describe("output formats", function()
teardown(function() if work then H.rmtree(work.dir) end end)

describe("tpp.format_real", function()
  it("spells every double as the shortest of %.15g, %.16g and %.17g that reads back as the same double", function()
    local seed = 12345
    local function random64()
      seed = (seed * 6364136223846793005 + 1442695040888963407)
      return seed
    end
    local checked = 0
    local function check(x)
      local got = tpp.format_real(x)
      assert.are.equal(reference_text(x), got, ("%.17g"):format(x))
      if x == x and x ~= math.huge and x ~= -math.huge then assert.are.equal(x, tonumber(got)) end
      checked = checked + 1
    end
    for _ = 1, 20000 do
      check(string.unpack("<d", string.pack("<i8", random64())))        -- any bit pattern
      check((random64() % 100000) / (1 + random64() % 997))            -- ratios, as the features are
      check(random64() % 2000000000000 / 1e3)                            -- times and sizes
      check(10.0 ^ (random64() % 40 - 20))                               -- at and next to powers of ten
      check((random64() % 1000000000000000) + 0.5)                        -- ties at 15 digits
    end
    for _, x in ipairs { 0.0, -0.0, 1.0, -1.0, 1e15, 1e-5, 0.1, 1 / 3, 2 ^ 52, 2 ^ 53 + 2, 5e-324, 1.7976931348623157e308,
                         0 / 0, math.huge, -math.huge, 123456789012344.5, 9007199254740993.0 } do
      check(x)
    end
    assert.is_true(checked > 100000)
  end)
end)

describe("r:write_critical(path [, format [, columns]])", function()
  it("writes every real cell so that it reads back as the same double", function()
    local w = setup()
    local path = w.dir .. "/all.tsv"
    assert(w.r:write_critical(path))
    local lines = lines_of(path)
    local header = fields(lines[1], "\t")
    assert.are.same(tpp.column_names(), header)
    assert.are.equal(#w.r + 1, #lines)
    local reals, nans = 0, 0
    for i = 1, #w.r do
      local row = fields(lines[i + 1], "\t")
      for c, name in ipairs(header) do
        local want = w.r:column(name)[i]
        if name ~= "start" and name ~= "end" and name ~= "covered" and name ~= "interval" then
          if want ~= want then
            assert.are.equal("nan", row[c], name)
            nans = nans + 1
          else
            assert.are.equal(want, tonumber(row[c]), ("%s of row %d: %s"):format(name, i, row[c]))
            if math.type(want) == "float" then reals = reals + 1 end
          end
        end
      end
    end
    assert.is_true(reals > 500 and nans > 100, ("%d reals, %d NaN"):format(reals, nans))
  end)

  it("writes the same numbers in TSV, CSV and NDJSON, the chosen columns in the chosen order", function()
    local w = setup()
    local cols = { "packets", "interval", "iat_mean", "ttl_mean", "start", "flows" }
    local tsv, csv, nd = w.dir .. "/c.tsv", w.dir .. "/c.csv", w.dir .. "/c.ndjson"
    assert(w.r:write_critical(tsv, "tsv", cols))
    assert(w.r:write_critical(csv, "csv", cols))
    assert(w.r:write_critical(nd, "ndjson", cols))
    local t, c, n = lines_of(tsv), lines_of(csv), lines_of(nd)
    assert.are.same(cols, fields(t[1], "\t"))
    assert.are.equal(table.concat(cols, ",") .. "\r", c[1])          -- CRLF line ends
    assert.are.equal(#w.r + 1, #t)
    assert.are.equal(#w.r + 1, #c)
    assert.are.equal(#w.r, #n)                                        -- NDJSON: no header
    for i = 1, #w.r do
      local trow, crow, nrow = fields(t[i + 1], "\t"), fields(c[i + 1]:gsub("\r$", ""), ","), json_cells(n[i])
      assert.are.equal(#cols, #nrow)
      for k, name in ipairs(cols) do
        assert.are.equal(name, nrow[k][1])
        local want = w.r:column(name)[i]
        if want ~= want then
          assert.are.same({ "nan", "", "null" }, { trow[k], crow[k], nrow[k][2] }, name)
        else
          assert.are.equal(trow[k], crow[k], name)
          assert.are.equal(trow[k], nrow[k][2], name)
        end
      end
    end
  end)

  it("refuses an unknown column, listing the valid ones, a column twice, and an unknown format", function()
    local w = setup()
    local ok, err = pcall(w.r.write_critical, w.r, w.dir .. "/x.tsv", "tsv", { "packets", "pakets" })
    assert.is_false(ok)
    assert.truthy(err:find("unknown column 'pakets'", 1, true), err)
    assert.truthy(err:find("interval, start, end, packets", 1, true), err)
    ok, err = pcall(w.r.write_critical, w.r, w.dir .. "/x.tsv", "tsv", { "packets", "packets" })
    assert.is_false(ok)
    assert.truthy(err:find("listed twice", 1, true), err)
    ok, err = pcall(w.r.write_critical, w.r, w.dir .. "/x.tsv", "xlsx")
    assert.is_false(ok)
    assert.truthy(err:find("invalid option 'xlsx'", 1, true), err)
    assert.is_nil(io.open(w.dir .. "/x.tsv"))
  end)

  it("gives the same TSV as text with r:critical_text()", function()
    local w = setup()
    local path = w.dir .. "/text.tsv"
    assert(w.r:write_critical(path))
    local f = assert(io.open(path, "rb"))
    local written = f:read("a")
    f:close()
    assert.are.equal(written, w.r:critical_text())
  end)
end)

describe("r:write_heavy_hitters and r:write_port_count in three formats", function()
  it("write the same rows in TSV, CSV and NDJSON", function()
    local w = setup()
    for _, t in ipairs { { "hh", "write_heavy_hitters", { "interval", "dim", "key", "packets", "bytes", "share" } },
                         { "pc", "write_port_count", { "series", "distinct_ports" } } } do
      local base = w.dir .. "/" .. t[1]
      for _, f in ipairs { "tsv", "csv", "ndjson" } do assert(w.r[t[2]](w.r, base .. "." .. f, f)) end
      local tl, cl, nl = lines_of(base .. ".tsv"), lines_of(base .. ".csv"), lines_of(base .. ".ndjson")
      assert.are.same(t[3], fields(tl[1], "\t"))
      assert.are.same(t[3], fields(cl[1]:gsub("\r$", ""), ","))
      assert.are.equal(#tl, #cl)
      assert.are.equal(#tl - 1, #nl)
      assert.is_true(#nl >= 5, t[1])
      for i = 2, #tl do
        local trow, crow, nrow = fields(tl[i], "\t"), fields(cl[i]:gsub("\r$", ""), ","), json_cells(nl[i - 1])
        for k, name in ipairs(t[3]) do
          assert.are.equal(name, nrow[k][1])
          assert.are.equal(trow[k] == "nan" and "" or trow[k], crow[k])
          local want = trow[k] == "nan" and "null" or trow[k]
          assert.are.equal(want, (nrow[k][2]:gsub('^"(.*)"$', "%1")), name)
        end
      end
      -- the heavy hitters' key and dim, and the series, are JSON strings (a port key too: one type per column)
      assert.truthy(nl[1]:find(t[1] == "hh" and '"dim":"' or '"series":"', 1, true))
    end
    local hh = lines_of(w.dir .. "/hh.ndjson")
    local port_key
    for _, line in ipairs(hh) do port_key = port_key or line:match('"dim":"tcp_dport","key":("%d+")') end
    assert.truthy(port_key, "a port's key is a string")
  end)
end)

describe("tpp.tables", function()
  local rows = {
    { interval = 0, score = 0.1, label = "scan, horizontal", ok = true },
    { interval = 1, score = 0 / 0, label = 'say "hi"\tthere\nnow', ok = false },
    { interval = 2, score = 1 / 3, label = "caf\xc3\xa9 \xff", ok = nil },
  }
  local cols = { "interval", "score", "label", "ok" }

  it("spells NaN, strings and numbers as each format needs", function()
    assert.are.equal("interval\tscore\tlabel\tok\n0\t0.1\tscan, horizontal\ttrue\n"
      .. '1\tnan\t"say ""hi""\tthere\nnow"\tfalse\n2\t0.3333333333333333\tcaf\xc3\xa9 \xff\t\n',
      tables.text(cols, rows, "tsv"))
    assert.are.equal('interval,score,label,ok\r\n0,0.1,"scan, horizontal",true\r\n'
      .. '1,,"say ""hi""\tthere\nnow",false\r\n2,0.3333333333333333,caf\xc3\xa9 \xff,\r\n',
      tables.text(cols, rows, "csv"))
    assert.are.equal('{"interval":0,"score":0.1,"label":"scan, horizontal","ok":true}\n'
      .. '{"interval":1,"score":null,"label":"say \\"hi\\"\\tthere\\nnow","ok":false}\n'
      .. '{"interval":2,"score":0.3333333333333333,"label":"caf\xc3\xa9 \u{fffd}","ok":null}\n',
      tables.text(cols, rows, "ndjson"))
  end)

  it("writes atomically and refuses what it cannot write", function()
    local w = setup()
    local path = w.dir .. "/labels.csv"
    assert(tables.write(path, cols, rows, "csv"))
    assert.are.equal(tables.text(cols, rows, "csv"), H.read_file(path))
    local ok, err = tables.write(w.dir .. "/no-such-dir/labels.csv", cols, rows, "csv")
    assert.is_nil(ok)
    assert.truthy(err:find("no-such-dir/labels.csv", 1, true), err)
    assert.has_error(function() tables.write(path, cols, rows, "xml") end,
                     "unknown table format 'xml' (tsv, csv or ndjson)")
    assert.has_error(function() tables.text(cols, { { label = {} } }, "tsv") end)
    assert.are.equal(tables.text(cols, rows, "csv"), H.read_file(path))   -- untouched by the failures
  end)
end)

-- Debian's python3 (python3-pandas is installed for it; a python3 earlier on PATH may lack pandas).
local function python() return io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3" end
local function has(cmd) return select(3, H.sh(cmd .. " >/dev/null 2>&1")) == 0 end

-- Each reader prints "dtype <name> <kind>" and "cell <name> <row> <value> <missing>" lines.
local PANDAS = [[
import sys
import pandas as pd
path, fmt = sys.argv[1], sys.argv[2]
if fmt == "tsv":
    df = pd.read_csv(path, sep="\t", float_precision="round_trip")
elif fmt == "csv":
    df = pd.read_csv(path, float_precision="round_trip")
else:
    df = pd.read_json(path, lines=True, precise_float=True)
for name in df.columns:
    print("dtype", name, df[name].dtype.kind, sep="\t")
    for i, v in enumerate(df[name].tolist()):
        missing = not isinstance(v, str) and bool(pd.isna(v))
        print("cell", name, i + 1, "nan" if missing else v if isinstance(v, str) else repr(v), int(missing), sep="\t")
]]
local R = [==[
args <- commandArgs(TRUE)
df <- if (args[2] == "tsv") read.delim(args[1]) else read.csv(args[1])
for (name in names(df)) {
  x <- df[[name]]
  cat("dtype", name, if (is.integer(x)) "i" else if (is.double(x)) "f" else if (is.logical(x)) "l" else "O",
      sep = "\t")
  cat("\n")
  for (i in seq_along(x)) {
    v <- x[i]
    text <- if (is.character(v)) v else if (is.na(v)) "nan" else sprintf("%.17g", v)
    cat("cell", name, i, text, as.integer(!is.character(v) && is.na(v)), sep = "\t")
    cat("\n")
  }
}
]==]

-- Run a reader on a table; the dtypes by column name and the cells by column name and row.
local function read_with(cmd, path, fmt)
  local out, err, status = H.sh(("%s %s %s"):format(cmd, q(path), fmt))
  assert.are.equal(0, status, cmd .. " " .. path .. ": " .. err)
  local dtypes, cells = {}, {}
  for line in out:gmatch("[^\n]+") do
    local f = fields(line, "\t")
    if f[1] == "dtype" then dtypes[f[2]] = f[3]
    elseif f[1] == "cell" then
      cells[f[2]] = cells[f[2]] or {}
      cells[f[2]][tonumber(f[3])] = { text = f[4], missing = f[5] == "1" }
    end
  end
  return dtypes, cells
end

describe("pandas and R", function()
  it("read the three tables in every format with the types and values of the result", function()
    local w = setup()
    local r = w.r
    local readers = {}
    if has(python() .. " -c 'import pandas'") then
      readers[#readers + 1] = { name = "pandas", cmd = python() .. " " .. q(H.write_file(w.dir .. "/read.py", PANDAS)),
                                formats = { "tsv", "csv", "ndjson" }, exact = true }
    end
    if has("Rscript --version") then
      -- jsonlite is not part of r-base-core: NDJSON is left to pandas when R lacks it
      readers[#readers + 1] = { name = "R", cmd = "Rscript " .. q(H.write_file(w.dir .. "/read.R", R)),
                                formats = { "tsv", "csv" }, exact = false }
    end
    assert.is_true(#readers > 0, "neither pandas nor R is installed (python3-pandas, r-base-core)")
    local counts = {}
    for _, c in ipairs(r:columns()) do counts[c] = true end
    for _, reader in ipairs(readers) do
      for _, fmt in ipairs(reader.formats) do
        local what = reader.name .. ", " .. fmt
        -- the critical table: counts as integers, reals as floats, NaN as missing, values the result's
        local path = w.dir .. "/crit." .. fmt
        assert(r:write_critical(path, fmt))
        local dtypes, cells = read_with(reader.cmd, path, fmt)
        local nans = 0
        for _, name in ipairs(tpp.column_names()) do
          local col = r:column(name)
          local integer = math.type(col[1]) == "integer" or name == "interval"
          -- a real column whose every value is whole (flows, say) is spelt without a fraction, so the readers
          -- infer integers for it, as they would for a count
          local whole, big, all_nan = true, false, true
          for i = 1, #r do
            whole = whole and col[i] == col[i] and col[i] == math.floor(col[i])
            big = big or (col[i] == col[i] and math.abs(col[i]) > 2 ^ 31 - 1)
            all_nan = all_nan and col[i] ~= col[i]
          end
          if all_nan and reader.name == "R" and fmt == "csv" then
            -- read.csv takes a column empty in every row for logical NA (README: colClasses = "numeric")
            assert.are.equal("l", dtypes[name], what .. ": " .. name .. " is all NA")
          elseif name == "start" or name == "end" or name == "covered" then
            assert.are.equal("f", dtypes[name], what .. ": " .. name .. " is a float column")
          elseif integer or whole then
            -- R keeps integers of 32 bits; a larger count is a double there
            assert.are.equal((big and reader.name == "R") and "f" or "i", dtypes[name],
                             what .. ": " .. name .. " is an integer column")
          else
            assert.are.equal("f", dtypes[name], what .. ": " .. name .. " is a float column")
          end
          for i = 1, #r do
            local want = name == "interval" and i - 1 or col[i]
            local got = assert(cells[name][i], what .. ": " .. name .. " row " .. i)
            if want ~= want then
              assert.is_true(got.missing, what .. ": " .. name .. " row " .. i .. " is NaN")
              nans = nans + 1
            elseif name == "start" or name == "end" or name == "covered" then
              assert.is_true(math.abs(tonumber(got.text) - want) < 1e-6, what .. ": " .. name)
            elseif reader.exact or integer then
              assert.are.equal(want, tonumber(got.text), ("%s: %s row %d: %s"):format(what, name, i, got.text))
            else -- R's own strtod is not always correctly rounded
              assert.is_true(math.abs(tonumber(got.text) - want) <= 1e-15 * math.abs(want), what .. ": " .. name)
            end
          end
        end
        assert.is_true(nans > 0, what .. ": NaN cells read")
        -- the heavy hitters: interval, packets and bytes integers, dim and key text, share a float
        local hh = w.dir .. "/hh." .. fmt
        assert(r:write_heavy_hitters(hh, fmt))
        dtypes, cells = read_with(reader.cmd, hh, fmt)
        assert.are.same({ interval = "i", dim = "O", key = "O", packets = "i", bytes = "i", share = "f" }, dtypes, what)
        local top = r:heavy_hitters("src", 1)
        assert.are.equal(tostring(top[1].key), cells.key[1].text, what)
        assert.are.equal(top[1].packets, tonumber(cells.packets[1].text), what)
        if reader.exact then assert.are.equal(top[1].share, tonumber(cells.share[1].text), what) end
        -- the port counts
        local pc = w.dir .. "/pc." .. fmt
        assert(r:write_port_count(pc, fmt))
        dtypes, cells = read_with(reader.cmd, pc, fmt)
        assert.are.same({ series = "O", distinct_ports = "i" }, dtypes, what)
        assert.are.equal("tcp_src", cells.series[1].text)
        assert.are.equal(r:distinct_ports("tcp_src"), tonumber(cells.distinct_ports[1].text), what)
      end
    end
  end)
end)

describe("the main job's --format and --columns", function()
  it("writes every table in the format, with its extension, and the chosen columns", function()
    local w = setup()
    local out = w.dir .. "/out"
    local stdout, err, status = H.exec_in(w.dir, ("-q -f none -t 0.5 --features ports,flows,hh --format ndjson --columns start,packets,interval -o %s %s")
      :format(q(out), q(w.trace)))
    assert.are.equal(0, status, stdout .. err)
    local crit = lines_of(out .. "/critical/trace_critical.ndjson")
    assert.are.equal(#w.r, #crit)
    assert.truthy(crit[1]:match('^{"start":[%d.]+,"packets":%d+,"interval":0}$'), crit[1])
    assert.truthy(io.open(out .. "/port_count/trace_port_count.ndjson"))
    assert.truthy(io.open(out .. "/hh/trace_hh.ndjson"))
    assert.is_nil(io.open(out .. "/critical/trace_critical.tsv"))
    -- the dump keeps every column
    local d = assert(tpp.load(out .. "/mem_dump/trace.tpd"))
    assert.are.same(tpp.column_names(), d:columns())
    -- a config file says the same
    local cfg = H.write_file(w.dir .. "/cfg.lua", 'return { format = "csv", columns = { "interval", "syn" } }')
    stdout, err, status = H.exec_in(w.dir, ("-q -f none --config %s -o %s %s"):format(q(cfg), q(out), q(w.trace)))
    assert.are.equal(0, status, stdout .. err)
    assert.are.equal("interval,syn\r", lines_of(out .. "/critical/trace_critical.csv")[1])
  end)

  it("refuses an unknown column or format before any work (exit 2), naming the valid ones", function()
    local w = setup()
    local out = w.dir .. "/refused"
    local _, err, status = H.exec_in(w.dir, ("-q -f none --columns interval,pakets -o %s %s"):format(q(out), q(w.trace)))
    assert.are.equal(2, status)
    assert.truthy(err:find("'pakets' is none of them", 1, true), err)
    assert.truthy(err:find("interval, start, end, packets", 1, true), err)
    _, err, status = H.exec_in(w.dir, ("-q -f none --columns packets,packets -o %s %s"):format(q(out), q(w.trace)))
    assert.are.equal(2, status)
    assert.truthy(err:find("listed twice", 1, true), err)
    _, err, status = H.exec_in(w.dir, ("-q -f none --format parquet -o %s %s"):format(q(out), q(w.trace)))
    assert.are.equal(2, status)
    assert.truthy(err:find("--format must be one of tsv, csv, ndjson", 1, true), err)
    assert.is_nil(require("lfs").attributes(out))
  end)
end)
end)
