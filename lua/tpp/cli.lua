-- tpp.cli: the main job's command line and --config files, resolved into one settings table.
--
--   local settings, err, usage = cli.resolve(arg)   -- nil, message on a usage or config error (usage: true
--                                                     -- when the command line itself did not parse)
--
-- settings = { paths = {...}, out = DIR, jobs = N, figures = {numbers 1..18}, print_critical, force, quiet,
--              series = NAME or nil (--series: every capture is a piece of one series called NAME),
--              shard = { index = I, count = N } or nil (--shard I/N), list (--list), shards = N or nil (--shards,
--              with --list), finish (--finish): a run's split into tasks (tpp.shard, scripts/exec.lua),
--              split = K or nil (--split), split_size = bytes or nil (--split-size): captures cut into chunks,
--              format = "tsv" | "csv" | "ndjson" (--format: every table's), columns = list of critical-table
--              column names or nil (--columns: all),
--              parse = { delta_t, boundary, ip, anchor, filter, max_packets, max_intervals,
--                        max_gap, keep_tables, features, flow_timeout, heavy_hitters, hhh_phi, encap,
--                        labels = { label files } or nil (--labels, checked here: a bad file is said once) } }
--                        -- tpp.parse's opts (max_gap, keep_tables and the feature options only when given:
--                        -- tpp.parse's defaults, 3600, "edges", "all", 60, 10 and 0.05, apply otherwise;
--                        -- features as "all", "none" or the groups' names in tpp.feature_groups' order)
--
-- Precedence: command line, then the config file, then the defaults.  --compat stands for --boundary packet
-- --ip v4 at its own level (a conflicting --boundary or --ip at the same level is an error).
local argparse = require "argparse"

local cli = {}

cli.NFIGURES = require("tpp.figures").count

cli.DEFAULTS = {
  paths = { "data" }, out = ".", delta_t = 10, max_packets = 0, max_intervals = 0, figures = "all",
  boundary = "aligned", ip = "any", anchor = "epoch", filter = nil, compat = false, jobs = nil, -- jobs: the number of cores
  config = nil, print_critical = false, force = false, quiet = false,
  max_gap = nil, keep_tables = nil, series = nil,   -- nil: tpp.parse's defaults (3600 s, "edges"); no series
  features = nil, flow_timeout = nil, heavy_hitters = nil, hhh_phi = nil,   -- nil: tpp.parse's ("all", 60, 10, 0.05)
  encap = nil,                                                               -- nil: tpp.parse's ("outer")
  format = "tsv", columns = nil,   -- columns nil: every column of the critical table
  labels = nil,   -- no ground truth
}

-- Parse a figure list: "1,2,12-18", "all" or "none" (a list of numbers, as a config may give it, is accepted
-- too).  Returns an ascending list of distinct figure numbers, or nil and a message.
function cli.parse_figures(spec)
  local out, seen = {}, {}
  local function add(n)
    if not seen[n] then seen[n] = true; out[#out + 1] = n end
  end
  local function bad(item)
    return nil, ("figure list '%s': '%s' is not a figure number (1-%d), a range such as 12-18, 'all' or 'none'")
      :format(type(spec) == "table" and "{...}" or tostring(spec), tostring(item), cli.NFIGURES)
  end
  if type(spec) == "table" then
    for _, n in ipairs(spec) do
      if math.type(n) ~= "integer" or n < 1 or n > cli.NFIGURES then return bad(n) end
      add(n)
    end
    table.sort(out)
    return out
  end
  if type(spec) ~= "string" then return bad(spec) end
  local text = spec:lower():gsub("%s+", "")
  if text == "all" then
    for n = 1, cli.NFIGURES do add(n) end
    return out
  end
  if text == "none" then return out end
  if text == "" then return bad(spec) end
  for item in (text .. ","):gmatch("([^,]*),") do
    local a, b = item:match("^(%d+)%-(%d+)$")
    if not a then
      a = item:match("^(%d+)$")
      b = a
    end
    a, b = tonumber(a), tonumber(b)
    if not a or a < 1 or b > cli.NFIGURES or a > b then return bad(item) end
    for n = a, b do add(n) end
  end
  table.sort(out)
  return out
end

-- Checks and conversions of one option's value, shared by the command line (strings) and config files
-- (Lua values).  Each returns the value or nil and what is wrong with it.
local function number_of(v) return type(v) == "number" and v or (type(v) == "string" and tonumber(v)) or nil end

local function count(v)
  local n = math.tointeger(number_of(v))
  if not n or n < 0 then return nil, "must be a non-negative integer" end
  return n
end

local function one_of(...)
  local names = { ... }
  return function(v)
    for _, name in ipairs(names) do if v == name then return v end end
    return nil, "must be one of " .. table.concat(names, ", ")
  end
end

local function flag(v)
  if type(v) ~= "boolean" then return nil, "must be true or false" end
  return v
end

local function text(v)
  if type(v) ~= "string" or v == "" then return nil, "must be a non-empty string" end
  return v
end

-- A name that outputs are called after (the series' NAME): one file-name component that leaves room for the
-- longest output suffix ("_critical.ndjson.incomplete"), neither "." nor "..".
local OUTPUT_NAME_MAX = 255 - #"_critical.ndjson.incomplete"
local function output_name(v)
  if type(v) ~= "string" or v == "" then return nil, "must be a non-empty name" end
  if v == "." or v == ".." or v:find("[/%z]") then return nil, "must be a file name without '/' (not . or ..)" end
  if #v > OUTPUT_NAME_MAX then return nil, ("must be at most %d bytes long"):format(OUTPUT_NAME_MAX) end
  return v
end

-- The names of a list option: a comma-separated string (spaces dropped) or, in a config file, an array of
-- strings.  Returns the list, or nil and the reason (`why` says what the option must be).
local function list_names(v, why)
  local names = {}
  if type(v) == "table" then
    for i, name in ipairs(v) do
      if type(name) ~= "string" then return nil, ("%s (item %d is %s)"):format(why, i, tostring(name)) end
      names[i] = name
    end
  elseif type(v) == "string" then
    for name in (v:gsub("%s+", "") .. ","):gmatch("([^,]*),") do names[#names + 1] = name end
  else
    return nil, why
  end
  return names
end

-- The feature groups (tpp.feature_groups, C's list): "all", "none", a list "ports,flows" (spaces allowed) or, in a
-- config file, an array of names; the canonical form is "all", "none" or the names in C's order, each once.
local function feature_groups(v)
  local groups = require("tpp.core").feature_groups
  local why = ("must be all, none or a comma-separated list of %s"):format(table.concat(groups, ", "))
  if type(v) == "string" then
    v = v:lower()
    local spec = v:gsub("%s+", "")
    if spec == "all" or spec == "none" then return spec end
  end
  local names, err = list_names(v, why)
  if not names then return nil, err end
  if #names == 0 then return nil, why end
  local wanted = {}
  for _, name in ipairs(names) do
    local known = false
    for _, g in ipairs(groups) do known = known or g == name end
    if not known then return nil, ("%s ('%s' is none of them)"):format(why, name) end
    wanted[name] = true
  end
  local out = {}
  for _, g in ipairs(groups) do if wanted[g] then out[#out + 1] = g end end
  return #out == #groups and "all" or table.concat(out, ",")
end

-- The critical table's columns to write: a list "interval,start,packets" (spaces allowed) or, in a config file, an
-- array of names; each a column of tpp.column_names(), once.  Returns the list of names, in the user's order.
local function column_list(v)
  local known = require("tpp.core").column_names()
  local why = "must be a comma-separated list of column names"
  local names, err = list_names(v, why)
  if not names then return nil, err end
  if #names == 0 or (#names == 1 and names[1] == "") then return nil, why end
  local valid, seen = {}, {}
  for _, name in ipairs(known) do valid[name] = true end
  for _, name in ipairs(names) do
    if not valid[name] then
      return nil, ("%s ('%s' is none of them; the columns are %s)"):format(why, name, table.concat(known, ", "))
    end
    if seen[name] then return nil, ("%s, each once ('%s' is listed twice)"):format(why, name) end
    seen[name] = true
  end
  return names
end

local CHECK = {
  out = text,
  format = one_of("tsv", "csv", "ndjson"),
  columns = column_list,
  features = feature_groups,
  flow_timeout = function(v)
    local n = number_of(v)
    if not n or not (n > 0) or n > 1e9 then return nil, "must be a positive number of seconds" end
    return n
  end,
  heavy_hitters = function(v)
    local n = math.tointeger(number_of(v))
    if not n or n < 1 or n > 1000 then return nil, "must be an integer from 1 to 1000" end
    return n
  end,
  hhh_phi = function(v)
    local n = number_of(v)
    if not n or not (n >= 1e-4) or n > 1 then return nil, "must be a number from 0.0001 to 1" end
    return n
  end,
  series = output_name,
  labels = function(v)
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" or #v == 0 then return nil, "must be a label file or a non-empty list of label files" end
    for i, p in ipairs(v) do
      if type(p) ~= "string" or p == "" then return nil, ("must be a list of label files (item %d is not a path)"):format(i) end
    end
    return v
  end,
  max_gap = function(v)
    local n = number_of(v)
    if not n or not (n >= 0) or n > 1e9 then return nil, "must be a number of seconds >= 0" end
    return n
  end,
  keep_tables = one_of("edges", "all"),
  encap = one_of("outer", "inner"),
  config = text,
  filter = function(v)
    if type(v) ~= "string" then return nil, "must be a string (a BPF expression)" end
    return v
  end,
  delta_t = function(v)
    local n = number_of(v)
    if not n or not (n > 0) or n > 1e9 then return nil, "must be a positive number of seconds" end
    if n * 1e9 < 1 - 1e-6 then return nil, "must be at least one nanosecond (1e-9)" end
    return n
  end,
  max_packets = count,
  max_intervals = count,
  jobs = function(v)
    local n = math.tointeger(number_of(v))
    if not n or n < 1 then return nil, "must be a positive integer" end
    return n
  end,
  figures = function(v)
    local list, err = cli.parse_figures(v)
    if not list then return nil, err end
    return list
  end,
  boundary = one_of("aligned", "packet"),
  ip = one_of("any", "v4", "v6"),
  anchor = one_of("epoch", "first"),
  compat = flag, print_critical = flag, force = flag, quiet = flag,
  paths = function(v)
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" or #v == 0 then return nil, "must be a path or a non-empty list of paths" end
    for i, p in ipairs(v) do
      if type(p) ~= "string" or p == "" then
        return nil, ("must be a path or a non-empty list of paths (item %d is %s)")
          :format(i, type(p) == "string" and "''" or tostring(p))
      end
    end
    return v
  end,
}

-- Check one option's value as the command line and config files do (for the other scripts): the value, or nil
-- and what is wrong with it ("must be ...").
function cli.check(key, value)
  return CHECK[key](value)
end

-- The option names of the command line, by settings key (for messages).
local FLAG_NAME = {
  out = "--out", delta_t = "--delta-t", max_packets = "--max-packets", max_intervals = "--max-intervals",
  figures = "--figures", filter = "--filter", boundary = "--boundary", ip = "--ip", anchor = "--anchor",
  compat = "--compat", series = "--series", max_gap = "--max-gap", keep_tables = "--keep-tables",
  jobs = "--jobs", config = "--config", print_critical = "--print-critical", force = "--force", quiet = "--quiet",
  features = "--features", flow_timeout = "--flow-timeout", heavy_hitters = "--heavy-hitters", hhh_phi = "--hhh-phi",
  encap = "--encap",
  format = "--format", columns = "--columns", labels = "--labels", paths = "PATH",
}

-- argparse puts each alias of an option with a value on a line of its own, right-aligned ("   -o DIR," over
-- "--out DIR"), which breaks the help's columns: give every option one label line, "-o, --out DIR".
local function one_line_labels(parser)
  for _, option in ipairs(parser._options or {}) do
    option._get_label_lines = function(self)
      local value = table.concat(self:_get_argument_list(), " ")
      return { table.concat(self._public_aliases, ", ") .. (value ~= "" and (" " .. value) or "") }
    end
  end
  return parser
end

-- The argparse parser of `tpp scripts/exec.lua`.
function cli.parser()
  local p = argparse("tpp scripts/exec.lua",
    "Cut packet captures into time intervals and write, per capture, its per-interval features "
    .. "(critical/<stem>_critical.tsv), its distinct ports (port_count/<stem>_port_count.tsv), its heavy hitters "
    .. "(hh/<stem>_hh.tsv), a dump for "
    .. "later runs (mem_dump/<stem>.tpd), figures (plot/) and the run's index (plot/index.html); with --series NAME, the captures are pieces of one "
    .. "series and all but the dumps are written once, for NAME.")
    :epilog("Captures are recognised by their magic bytes (pcap, pcapng, plain or compressed with gzip, zstd or xz), directories are "
      .. "walked recursively in name order (hidden entries and the output root's own folders are skipped); a file "
      .. "reached twice is processed once.  Exit status: 0 when every capture was processed completely, "
      .. "1 when one failed, was incomplete or an output could not be written, 2 on a usage or config error, "
      .. "130 when interrupted (Ctrl-C).")
    :help_max_width(100)
  p:argument("paths", "Capture files or directories, - for standard input (default: ./data, else the sample beside the scripts).", nil):args("*"):argname("PATH")
  p:option("-o --out", "Output root for mem_dump/, critical/, port_count/, hh/, labels/ and plot/ (default .)."):argname("DIR")
  p:option("-t --delta-t", "Interval length in seconds, fractions allowed (default 10)."):argname("SEC")
  p:option("--max-packets", "Stop each capture (with --series: the series) after N packets (0 = all)."):argname("N")
  p:option("--max-intervals", "Stop each capture (with --series: the series) after N intervals (0 = all)."):argname("N")
  p:option("-f --figures", "Figures to draw: e.g. 1,2,12-18 | all | none (default all)."):argname("LIST")
  p:option("--format", "Format of every table (critical, port_count, hh): tsv (default) | csv | ndjson (one JSON "
    .. "object per row, NaN as null); the extension follows it."):argname("FMT")
  p:option("--columns", "Columns of the critical table, in this order: e.g. interval,start,packets (default all; "
    .. "the dump keeps every column)."):argname("LIST")
  p:option("--filter", "BPF filter (libpcap syntax)."):argname("EXPR")
  p:option("--boundary", "Interval boundaries: aligned | packet (default aligned)."):argname("MODE")
  p:option("--ip", "IP family analysed: any | v4 | v6 (default any)."):argname("FAMILY")
  p:option("--anchor", "Aligned intervals start at: epoch (multiples of -t since the epoch, default) | first "
    .. "(the first packet)."):argname("WHERE")
  p:flag("--compat", "The original tool's semantics: --boundary packet --ip v4 (and its classification of "
    .. "encapsulated packets).")
  p:option("--encap", "Tunnelled packets (GRE, IP in IP, VXLAN, Geneve, GTP-U, Teredo) are analysed by their: "
    .. "outer (default) | inner IP header."):argname("WHICH")
  p:option("--max-gap", "A run of empty intervals longer than SEC ends a segment instead of being written "
    .. "(default 3600)."):argname("SEC")
  p:option("--keep-tables", "Intervals that keep their address tables for an exact merge: edges (the first and "
    .. "last, default) | all (needed to merge overlapping captures)."):argname("WHICH")
  p:option("--features", "Feature groups computed: all (default) | none | a list of "
    .. table.concat(require("tpp.core").feature_groups, ", ") .. " (their columns are NaN when off; hh/ is "
    .. "written with hh)."):argname("LIST")
  p:option("--flow-timeout", "A flow's packet after a silence longer than SEC starts a new flow (flows_new; "
    .. "default 60)."):argname("SEC")
  p:option("--heavy-hitters", "Heavy hitters kept per interval and dimension (1-1000, default 10)."):argname("K")
  p:option("--hhh-phi", "Hierarchical heavy hitters: the prefixes whose residual share of the interval's IP "
    .. "packets is at least F (0 < F <= 1, default 0.05)."):argname("F")
  p:option("--labels", "Ground truth: a MAWILab label file (admd XML, or MAWILab's CSV) put on the series as the "
    .. "columns anomalous_pkts .. notice_events, and labels/<stem>_labels.tsv (one row per anomaly); repeat it for "
    .. "several files (e.g. the day's anomalous_suspicious and notice files)."):count("*"):argname("FILE")
  p:option("--series", "All the captures are pieces of one series: each is parsed and dumped, then they are "
    .. "merged and the outputs written once, as NAME."):argname("NAME")
  p:option("-j --jobs", "Captures processed in parallel (default: number of cores)."):argname("N")
  p:option("--config", "A Lua file returning a table of the same options, e.g. { delta_t = 5, figures = \"1-11\" } "
    .. "(long names with underscores; the command line wins)."):argname("FILE")
  p:flag("--print-critical", "Print each capture's interval rows on stdout (TSV, first column the capture).")
  p:option("--shard", "Process only shard I of N: the captures are dealt into N shards by size, the same in every "
    .. "task, and named as in the whole run; then --finish."):argname("I/N")
  p:flag("--finish", "The step after the shards: parse nothing, take every capture's dump (a capture without one "
    .. "fails), write the series merge, figures, plot/index.html and the run's summary.")
  p:flag("--list", "Print the work items, tab-separated (capture, output name, size in bytes, shard), and do "
    .. "nothing else.")
  p:option("--shards", "With --list: deal the items into N shards (default: --shard's N, else 1)."):argname("N")
  p:option("--split", "Cut each capture into K chunks at interval boundaries, parsed apart (on -j cores, or as "
    .. "items of --shard) and merged into exactly the single pass (classic pcap, plain or gzip)."):argname("K")
  p:option("--split-size", "Cut the captures larger than SIZE (bytes; k, M, G) into chunks of about SIZE."):argname("SIZE")
  p:flag("--force", "Re-parse even if an up-to-date dump exists.")
  p:flag("-q --quiet", "No progress output; only problems are reported.")
  return one_line_labels(p)
end

-- Load a config file as data: a Lua chunk run in an empty environment (no os, io, require...) that returns a
-- table of options.  Returns the checked table or nil and a message naming the file.
function cli.load_config(path)
  -- Run as data in a sandbox of its own: an empty environment, 64 MB, 10^8 instructions (tpp.load_data).
  local value, err = require("tpp").load_data(path)
  if not value then return nil, err end
  local checked = {}
  for key, v in pairs(value) do
    if type(key) ~= "string" or not CHECK[key] or key == "config" then
      local known = {}
      for name in pairs(CHECK) do if name ~= "config" then known[#known + 1] = name end end
      table.sort(known)
      return nil, ("%s: unknown option '%s' (known: %s)"):format(path, tostring(key), table.concat(known, ", "))
    end
    local good, why = CHECK[key](v)
    if good == nil then
      return nil, ("%s: option %s %s, got %s"):format(path, key, why,
        type(v) == "string" and ("'" .. v .. "'") or type(v) == "table" and "a table" or tostring(v))
    end
    checked[key] = good
  end
  return checked
end

-- Expand compat at one level (command line or config) into boundary and ip.
local function expand_compat(level, where)
  if not level.compat then return true end
  if level.encap == "inner" then
    return nil, ("%s: --compat classifies packets as the original tool did, which conflicts with --encap inner")
      :format(where)
  end
  for key, want in pairs { boundary = "packet", ip = "v4" } do
    if level[key] ~= nil and level[key] ~= want then
      return nil, ("%s: --compat means --boundary packet --ip v4, which conflicts with %s %s")
        :format(where, FLAG_NAME[key], level[key])
    end
    level[key] = want
  end
  return true
end

-- The options that split a run into tasks (command line only: they differ from task to task, a config file
-- describes the run): { shard = { index, count } or nil, list, shards, finish }, or nil and what is wrong.
function cli.split_options(args, given, series, max_packets, max_intervals)
  local out = { list = args.list or false, finish = args.finish or false }
  if args.shard then
    local i, n = require("tpp.shard").parse(args.shard)
    if not i then return nil, ("option --shard %s: %s"):format(args.shard, n) end
    out.shard = { index = i, count = n }
  end
  if args.shards then
    local n = math.tointeger(number_of(args.shards))
    if not n or n < 1 then return nil, ("option --shards must be a positive integer, got '%s'"):format(args.shards) end
    out.shards = n
  end
  local function conflict(a, b, why) return nil, ("%s and %s cannot be given together: %s"):format(a, b, why) end
  if out.shards and not out.list then return nil, "option --shards goes with --list (a task takes --shard I/N)" end
  if out.shards and out.shard then return conflict("--shards", "--shard", "both say the number of shards") end
  if out.finish and out.shard then
    return conflict("--finish", "--shard", "the finishing step runs once, after every shard")
  end
  if out.finish and out.list then return conflict("--finish", "--list", "--list does nothing but list") end
  if out.finish and given.force then
    return conflict("--finish", "--force", "the finishing step never parses, it takes the shards' dumps")
  end
  if args.split then
    local k = math.tointeger(number_of(args.split))
    if not k or k < 1 or k > 4096 then
      return nil, ("option --split must be a number of chunks from 1 to 4096, got '%s'"):format(args.split)
    end
    out.split = k
  end
  if args.split_size then
    local n, unit = tostring(args.split_size):match("^(%d+%.?%d*)([kKmMgG]?)$")
    local size = n and tonumber(n) * ({ [""] = 1, k = 1e3, K = 1e3, m = 1e6, M = 1e6, g = 1e9, G = 1e9 })[unit]
    if not size or size < 1e6 then
      return nil, ("option --split-size must be a size of at least 1M (bytes, or with k, M, G), got '%s'")
        :format(args.split_size)
    end
    out.split_size = math.floor(size)
  end
  if series and (out.shard or out.finish) and ((max_packets or 0) > 0 or (max_intervals or 0) > 0) then
    return nil, ("--%s with --series and a limit (--max-packets, --max-intervals): a series' limit is spent one "
      .. "capture after the other in time order, which shards cannot do; run it as one task"):format(
      out.shard and "shard" or "finish")
  end
  return out
end

-- Resolve the command line `argv` (a list of strings) and the --config file it names into settings.
-- Returns settings, or nil, a message (a usage or config error) and whether the usage is worth showing.
function cli.resolve(argv)
  local ok, args = cli.parser():pparse(argv)
  if not ok then return nil, args, true end
  local given = {}
  for key, name in pairs(FLAG_NAME) do
    local v = args[key]
    if (key == "paths" or key == "labels") and #v == 0 then v = nil end
    if v ~= nil then
      local good, why = CHECK[key](v)
      if good == nil then
        if key == "figures" then return nil, why end
        return nil, ("option %s %s, got '%s'"):format(name, why, tostring(v))
      end
      given[key] = good
    end
  end
  local config = {}
  if given.config then
    local err
    config, err = cli.load_config(given.config)
    if not config then return nil, err end
  end
  local good, err = expand_compat(given, "command line")
  if not good then return nil, err end
  good, err = expand_compat(config, given.config)
  if not good then return nil, err end

  local function pick(key)
    if given[key] ~= nil then return given[key] end
    if config[key] ~= nil then return config[key] end
    return cli.DEFAULTS[key]
  end
  local series = pick("series")
  if series and pick("boundary") == "packet" then -- refused by tpp.merge anyway: say it before any work
    return nil, ("%s: a series cannot be merged in packet mode (--boundary packet, --compat): its intervals depend on "
      .. "all the data before them; use --boundary aligned"):format(given.series and "option --series"
      or (given.config .. ": option series"))
  end
  local figures = pick("figures")
  if type(figures) == "string" then figures = assert(cli.parse_figures(figures)) end
  local filter = pick("filter")
  -- A bad filter would fail every capture alike: say it once, before any work.
  if filter and filter ~= "" then
    local tpp = require "tpp"
    local good_filter, why = tpp.check_filter(filter)
    if not good_filter then
      return nil, (given.filter and "option --filter: " or (given.config .. ": option filter: ")) .. why
    end
  end
  local label_files = pick("labels")
  if label_files then -- a bad label file would fail every capture alike: say it once, before any work
    local okl, lerr = require("tpp.labels").read_all(label_files)
    if not okl then return nil, (given.labels and "option --labels: " or (given.config .. ": option labels: ")) .. lerr end
  end
  local split, why = cli.split_options(args, given, series, pick("max_packets"), pick("max_intervals"))
  if not split then return nil, why end
  local parse = {
    delta_t = pick("delta_t"), boundary = pick("boundary"), ip = pick("ip"), anchor = pick("anchor"),
    filter = filter ~= "" and filter or nil,
    max_packets = pick("max_packets"), max_intervals = pick("max_intervals"),
    max_gap = pick("max_gap"), keep_tables = pick("keep_tables"),
    features = pick("features"), flow_timeout = pick("flow_timeout"), heavy_hitters = pick("heavy_hitters"),
    hhh_phi = pick("hhh_phi"), encap = pick("encap"), labels = label_files,
  }
  if (split.split or 1) > 1 or split.split_size then -- a chunk is a part of one pass: say before any work if not
    local cannot = require("tpp.split").unsplittable(parse)
    if cannot then return nil, ("option --split%s: cannot split: %s"):format(split.split and "" or "-size", cannot) end
  end
  local jobs = pick("jobs")
  if not jobs then
    local tpp = require "tpp"
    jobs = tpp.cpus()
  end
  return {
    paths = pick("paths"), out = pick("out"), jobs = jobs, figures = figures,
    print_critical = pick("print_critical"), force = pick("force"), quiet = pick("quiet"), config = given.config,
    series = series, shard = split.shard, list = split.list, shards = split.shards, finish = split.finish,
    split = split.split, split_size = split.split_size, format = pick("format"), columns = pick("columns"),
    parse = parse,
  }
end

return cli
